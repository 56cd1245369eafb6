import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from ray_semiqc.measures import task_curves, task_metrics
from ray_semiqc.qc.curves_table import curves_row, read_curves_table, row_curves, write_curves_table
from ray_semiqc.tasks import AORTA, SAX


def _aorta_row(subject_id="a1", pulse_pressure_mmhg=None):
    labels = np.zeros((8, 8, 1, 4), np.uint8)
    labels[:3, :3, 0, :] = 1
    labels[3, :3, 0, 1] = 1
    curves = task_curves(AORTA, labels, (2.0, 2.0, 10.0))
    return curves_row(
        subject_id,
        AORTA,
        "vgg_fcn/aorta/demo/seed0/step300",
        curves,
        task_metrics(AORTA, curves, 0, pulse_pressure_mmhg),
    )


def test_rows_of_both_tasks_and_error_rows_round_trip(tmp_path):
    sax_curves = {name: np.linspace(1, 2, 5) for name in SAX.curve_names}
    rows = [
        _aorta_row(),
        curves_row("s1", SAX, "res_unet/sax/demo/seed0/step300", sax_curves, task_metrics(SAX, sax_curves)),
        curves_row("s2", SAX, "res_unet/sax/demo/seed0/step300", error="subject s2: sa.nii.gz: file is missing"),
    ]
    table = read_curves_table(write_curves_table(tmp_path / "curves.parquet", rows))
    read = table.to_pylist()
    assert [r["status"] for r in read] == ["ok", "ok", "error"]
    assert read[0]["aorta_area_mm2"] == [36.0, 48.0, 36.0, 36.0]
    assert read[0]["lv_volume_ml"] is None and read[1]["aorta_area_mm2"] is None
    np.testing.assert_allclose(row_curves(read[1])["rv_volume_ml"], np.linspace(1, 2, 5))
    assert read[2]["error"].endswith("file is missing") and read[2]["lvedv_ml"] is None
    with pytest.raises(ValueError, match="row has no curves"):
        row_curves(read[2])


def test_a_nan_metric_keeps_its_reason_beside_it(tmp_path):
    read = read_curves_table(write_curves_table(tmp_path / "c.parquet", [_aorta_row()])).to_pylist()[0]
    assert math.isnan(read["aorta_distensibility_1e3_per_mmhg"])
    assert read["metric_notes"] == "aorta_distensibility_1e3_per_mmhg: central pulse pressure unknown"
    with_pressure = _aorta_row(pulse_pressure_mmhg=40.0)
    assert with_pressure["aorta_distensibility_1e3_per_mmhg"] == pytest.approx((48 - 36) / (36 * 40) * 1e3)
    assert with_pressure["metric_notes"] is None


def test_a_row_needs_curves_or_an_error_but_not_both():
    with pytest.raises(ValueError, match="either curves or an error"):
        curves_row("x", SAX, "m")
    with pytest.raises(ValueError, match=r"lacks curve\(s\) \['rv_volume_ml'\]"):
        curves_row("x", SAX, "m", {"lv_volume_ml": np.ones(3), "myo_volume_ml": np.ones(3)}, {})


def test_a_file_that_is_not_a_curves_table_is_refused(tmp_path):
    import pyarrow as pa

    pq.write_table(pa.table({"subject_id": ["a"]}), tmp_path / "other.parquet")
    with pytest.raises(ValueError, match="not a curves table, columns .*'task'"):
        read_curves_table(tmp_path / "other.parquet")
