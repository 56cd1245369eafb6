"""The training-set and ranking paths never open anything under the cohort's `truth/` folder.

Every file Python opens (builtins/io/os/gzip open, hence nibabel too) raises the "open" audit
event; a hook records the paths while the paths under test run on the smoke cohort.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from ray_semiqc.cohort.manifest import read_manifest
from ray_semiqc.cohort.subject import load_subject
from ray_semiqc.cohort.truth import TRUTH_DIR, load_truth
from ray_semiqc.config import load_preset
from ray_semiqc.measures import task_curves, task_metrics
from ray_semiqc.models.registry import build_network
from ray_semiqc.qc.classifier import QCClassifier
from ray_semiqc.qc.curves_table import CURVES_SCHEMA, curves_row
from ray_semiqc.qc.ranking import best_in_class, rank_cases, score_rows
from ray_semiqc.seg.dataset import build_training_set, labelled_records
from ray_semiqc.tasks import AORTA, SAX

_recording: list[list[str]] = []  # the open recorder, when one is active


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _recording and isinstance(args[0], (str, bytes, Path)):
        _recording[-1].append(str(Path(args[0] if not isinstance(args[0], bytes) else args[0].decode()).resolve()))


sys.addaudithook(_audit)  # hooks cannot be removed; this one only records inside `opened_files`


class opened_files:
    """Context manager: the resolved paths of every file opened inside it."""

    def __enter__(self) -> list[str]:
        _recording.append([])
        return _recording[-1]

    def __exit__(self, *exc) -> None:
        _recording.pop()


def _under_truth(paths: list[str], cohort: Path) -> list[str]:
    truth = str((cohort / TRUTH_DIR).resolve())
    return [p for p in paths if p == truth or p.startswith(truth + "/")]


def test_the_recorder_sees_truth_reads(smoke_cohort):
    record = read_manifest(smoke_cohort).split("qc_train")[0]
    image = load_subject(smoke_cohort, record, SAX, with_label=False).image
    with opened_files() as opened:
        load_truth(smoke_cohort, record, SAX, image.shape)
    assert set(_under_truth(opened, smoke_cohort)) == {
        str((smoke_cohort / TRUTH_DIR / record.subject_id / SAX.label_file).resolve())
    }


@pytest.mark.parametrize("task", [SAX, AORTA], ids=lambda t: t.name)
def test_building_the_training_set_never_opens_truth(smoke_cohort, task):
    manifest = read_manifest(smoke_cohort)
    with opened_files() as opened:
        training = build_training_set(smoke_cohort, labelled_records(manifest.records, task), task, crop_size=64)
    assert len(training) > 0 and any(p.endswith(task.label_file) for p in opened)
    assert _under_truth(opened, smoke_cohort) == []


def test_segmenting_measuring_and_ranking_the_unlabelled_pool_never_opens_truth(smoke_cohort, smoke_config):
    """The ranking path: unlabelled images → a network's masks → curves → QC ranking → best in class."""
    torch.manual_seed(0)
    network = build_network(smoke_config.seg.network["sax"], SAX, smoke_config.seg).eval()
    pool = read_manifest(smoke_cohort).split("unlabelled")[:3]  # a few suffice to walk the path
    with opened_files() as opened:
        rows = []
        for record in pool:
            subject = load_subject(smoke_cohort, record, SAX, with_label=True)
            slices = torch.from_numpy(subject.image.transpose(3, 2, 0, 1).reshape(-1, 1, *subject.image.shape[:2]))
            with torch.no_grad():
                masks = network(slices / slices.amax()).argmax(1).numpy().astype(np.uint8)
            labels = masks.reshape(subject.image.shape[3], subject.image.shape[2], *subject.image.shape[:2]).transpose(
                2, 3, 1, 0
            )
            curves = task_curves(SAX, labels, subject.spacing_mm)
            metrics = task_metrics(SAX, curves, record.ed_frame, record.central_pulse_pressure_mmhg)
            rows.append(curves_row(record.subject_id, SAX, "untrained", curves=curves, metrics=metrics))
        table = pa.Table.from_pylist(rows, schema=CURVES_SCHEMA)
        # any fitted classifier will do: the point is what ranking opens, not how well it ranks
        scorable = [{name: np.arange(1.0, 9.0) * (i + 1) for name in SAX.curve_names} for i in range(6)]
        qc = dataclasses.replace(load_preset("smoke").qc, resample_length=8, lstm_hidden=4, lstm_layers=1, epochs=2)
        classifier = QCClassifier.from_config("sax", qc, seed=0)
        classifier.fit(scorable, [i % 2 == 0 for i in range(6)])
        ranking = rank_cases(pa.Table.from_pylist(score_rows(table.to_pylist(), classifier), schema=CURVES_SCHEMA))
        best_in_class(ranking, k=3)
    assert ranking.num_rows == len(pool)
    assert any(p.endswith(SAX.image_file) for p in opened)
    assert _under_truth(opened, smoke_cohort) == []
