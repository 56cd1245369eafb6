"""The QC stage on Ray: the reviewed set fans out one task per qc_train subject, the classifier
trains in-process on Ray Train (num_workers=0), its threshold is chosen on calibration subjects and
judged on test subjects, and a
curves table is ranked."""

import hashlib
import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ray_semiqc.cohort.manifest import read_manifest
from ray_semiqc.distributed.qc import build_qc_set, cross_validate_qc_on_ray, score_curves, train_qc_on_ray
from ray_semiqc.measures import task_metrics
from ray_semiqc.models.checkpoint import CheckpointMeta, load_checkpoint, save_checkpoint
from ray_semiqc.models.registry import build_network, network_arguments
from ray_semiqc.qc.assessment import ASSESSMENT_FILE, read_assessment
from ray_semiqc.qc.cases import QC_SET_SCHEMA, SET_FILE, case_source
from ray_semiqc.qc.classifier import QCClassifier
from ray_semiqc.qc.curves_table import curves_row, write_curves_table
from ray_semiqc.tasks import AORTA


def _untrained_aorta_checkpoint(path, config):
    network = config.seg.network["aorta"]
    meta = CheckpointMeta(
        network=network,
        task="aorta",
        arguments=network_arguments(network, AORTA, config.seg),
        preset=config.preset,
        crop_size=config.seg.crop_size["aorta"],
        normalisation=AORTA.normalisation,
        step=0,
        validation_dice=float("nan"),
        seg_config={"predict_batch_size": config.seg.predict_batch_size},
    )
    return save_checkpoint(path, build_network(network, AORTA, config.seg), meta)


def test_build_qc_set_reviews_every_qc_train_subject_and_keeps_bad_ones_as_rows(
    ray_session, smoke_cohort, smoke_config, tmp_path
):
    cohort = shutil.copytree(smoke_cohort, tmp_path / "cohort")
    records = read_manifest(cohort).split("qc_train")
    broken = records[3]
    (cohort / broken.ao_path).write_bytes(b"not a nifti")
    model = _untrained_aorta_checkpoint(tmp_path / "untrained.pt", smoke_config)
    config = smoke_config.replace(qc={"failure_injection_fraction": 0.5})

    set_dir = build_qc_set(cohort, "aorta", [model], tmp_path / "set", config, seed=0)

    rows = pq.read_table(set_dir / SET_FILE).to_pylist()
    assert sorted(r["subject_id"] for r in rows) == sorted(r.subject_id for r in records)
    failed = [r for r in rows if r["status"] == "error"]
    assert [r["subject_id"] for r in failed] == [broken.subject_id]
    assert "ao.nii.gz" in failed[0]["error"] and "unreadable NIfTI" in failed[0]["error"]
    summary = json.loads((set_dir / "set_summary.json").read_text())
    assert summary["cases"] == len(records) and len(summary["errors"]) == 1
    assert summary["usable"]["n"] + len(summary["unscorable"]) == len(records) - 1
    injected = [r for r in rows if r["failure"]]
    assert 0 < len(injected) < len(records)  # about half, by the seeded draw
    network, meta = load_checkpoint(model)
    digest = hashlib.sha256()
    for name, tensor in sorted(network.state_dict().items()):  # the weights' digest, by hand
        digest.update(name.encode())
        digest.update(tensor.numpy().tobytes())
    version = f"vgg_fcn/aorta/smoke/seed0/step0/{digest.hexdigest()[:12]}"
    assert all(r["model"] == version for r in rows)
    sources = {case_source(r) for r in rows}
    assert version in sources
    assert {f"injected: {r['failure']}" for r in injected if not r["failure"].startswith("not injected")} <= sources


def test_build_qc_set_refuses_a_model_of_the_other_task(ray_session, smoke_cohort, smoke_config, tmp_path):
    model = _untrained_aorta_checkpoint(tmp_path / "aorta.pt", smoke_config)
    with pytest.raises(ValueError, match="checkpoint is for task 'aorta', expected 'sax'"):
        build_qc_set(smoke_cohort, "sax", [model], tmp_path / "set", smoke_config, seed=0)


def _area_cycle(rng, erroneous):
    area = rng.uniform(400, 700) * (1 + 0.2 * np.sin(np.pi * np.arange(12) / 12) ** 2)
    if erroneous:  # a frame without a mask
        area[rng.integers(12)] *= 0.05
    return {"aorta_area_mm2": area}


@pytest.fixture(scope="module")
def toy_qc_set(tmp_path_factory):
    """A reviewed aorta QC set of 60 subjects, every third with a lost frame."""
    rng = np.random.default_rng(0)
    rows = []
    for index in range(60):
        erroneous = index % 3 == 0
        curves = _area_cycle(rng, erroneous)
        row = curves_row(f"{index:03d}", AORTA, "vgg_fcn/aorta/demo", curves, task_metrics(AORTA, curves))
        rows.append(
            {
                **row,
                "failure": None,
                "erroneous": erroneous,
                "clinically_erroneous": erroneous,
                "review": None,
                "min_frame_dice": 0.9,
                "mean_dice": 0.5 if erroneous else 0.9,
            }
        )
    set_dir = tmp_path_factory.mktemp("qc_set")
    pq.write_table(pa.Table.from_pylist(rows, schema=QC_SET_SCHEMA), set_dir / SET_FILE)
    return set_dir


def test_train_qc_on_ray_chooses_the_threshold_on_calibration_and_reports_test_subjects(
    ray_session, toy_qc_set, smoke_config, tmp_path
):
    model_path = train_qc_on_ray(toy_qc_set, tmp_path, smoke_config, seed=0, workers=0)

    classifier = QCClassifier.load(model_path, expect_task="aorta")
    saved = json.loads((tmp_path / ASSESSMENT_FILE).read_text())
    assessment = read_assessment(tmp_path / ASSESSMENT_FILE)
    row = assessment.results_row(smoke_config.qc.target_sensitivity)
    assert (saved["n_train"], saved["calibration"]["n"], row["n"]) == (36, 12, 12)
    assert saved["qc_model"] == classifier.version_
    assert sum(r["erroneous"] + r["good"] for r in assessment.results_by_source()) == row["n"]
    assert row["threshold"] == classifier.operating_point_.threshold  # the deployed model's own threshold
    # a lost frame is plain to see: every erroneous test case is caught
    assert row["sensitivity"] == 1.0 and row["auc"] > 0.9
    subjects = saved["subjects"]
    assert set(subjects["test"]).isdisjoint(subjects["train"] + subjects["calibration"])


def test_cross_validation_tests_every_subject_once_with_its_own_fold_threshold(
    ray_session, toy_qc_set, smoke_config, tmp_path
):
    report = json.loads(cross_validate_qc_on_ray(toy_qc_set, tmp_path, smoke_config, seed=0).read_text())

    folds = report["test_subjects_per_fold"]
    assert len(folds) == report["folds"] == smoke_config.qc.assessment_folds
    assert sorted(s for fold in folds for s in fold) == [f"{i:03d}" for i in range(60)]  # each subject tested once
    assert (report["n"], report["n_erroneous"]) == (60, 20)
    assert report["sensitivity"] == 1.0 and report["sensitivity_ci95_high"] == 1.0  # a lost frame is plain to see
    assert len(report["thresholds"]) == len(report["auc_per_fold"]) == len(folds)
    assert report["by_source"] == [
        {
            "task": "aorta",
            "source": "vgg_fcn/aorta/demo",
            "erroneous": 20,
            "caught": 20,
            "good": 40,
            "passed": round(report["specificity"] * 40),
        }
    ]


def test_score_curves_writes_a_ranking_with_the_accurate_cases_first(ray_session, toy_qc_set, smoke_config, tmp_path):
    model_path = train_qc_on_ray(toy_qc_set, tmp_path / "qc", smoke_config, seed=0, workers=0)
    rng = np.random.default_rng(9)
    rows = [
        curves_row(f"u{i}", AORTA, "vgg_fcn/aorta/demo", c, task_metrics(AORTA, c))
        for i, c in enumerate(_area_cycle(rng, erroneous=i % 2 == 1) for i in range(8))
    ]
    rows.append(curves_row("u_bad", AORTA, "vgg_fcn/aorta/demo", error="subject u_bad: ao.nii.gz: file is empty"))
    curves_path = write_curves_table(tmp_path / "curves.parquet", rows)

    ranking = pq.read_table(score_curves(curves_path, model_path, tmp_path / "ranked")).to_pylist()

    assert {r["subject_id"] for r in ranking[:4]} == {"u0", "u2", "u4", "u6"}
    assert ranking[-1]["subject_id"] == "u_bad" and ranking[-1]["rank"] is None
    with pytest.raises(ValueError, match="QC model is for task 'aorta', not 'sax'"):
        sax_rows = [curves_row("s0", __import__("ray_semiqc.tasks").tasks.SAX, "m", error="x")]
        score_curves(write_curves_table(tmp_path / "sax.parquet", sax_rows), model_path, tmp_path / "r2")
