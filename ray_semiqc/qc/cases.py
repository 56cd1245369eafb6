"""QC training cases: a qc_train subject segmented by one model, maybe broken on purpose, then reviewed.

This is the honest stand-in for the seed's 1,000 clinician-reviewed cases: real model
outputs (an intermediate checkpoint of the half-data model, the final half-data model and
the full-data model) on subjects never used to train or test the segmenters, a fraction
with an injected realistic failure, each judged by the simulated reviewer against the
hidden truth. Every subject is segmented by every model, so one subject gives several
cases. A case is one row of the QC set: the curves-table columns plus the review.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from ray_semiqc.cohort.errors import CohortError
from ray_semiqc.cohort.manifest import SubjectRecord
from ray_semiqc.cohort.subject import load_subject
from ray_semiqc.cohort.truth import load_truth
from ray_semiqc.config import QCConfig
from ray_semiqc.measures import task_curves, task_metrics
from ray_semiqc.models.checkpoint import CheckpointMeta
from ray_semiqc.qc.curves_table import CURVES_SCHEMA, STATUS_OK, curves_row
from ray_semiqc.qc.failures import inject_failure
from ray_semiqc.qc.features import unscorable_reason
from ray_semiqc.qc.reviewer import review_case
from ray_semiqc.seg.predict import segment_subject
from ray_semiqc.tasks import Task

SET_FILE = "set.parquet"
SUMMARY_FILE = "set_summary.json"
NOT_INJECTED = "not injected"  # how a failure that could not be injected is recorded

QC_SET_SCHEMA = pa.schema(
    list(CURVES_SCHEMA)
    + [
        pa.field("failure", pa.string()),  # the injected failure, null when the model's output is as it came
        pa.field("erroneous", pa.bool_()),  # the reviewer's label (with reviewer noise): what QC learns
        pa.field("clinically_erroneous", pa.bool_()),  # the verdict before noise
        pa.field("review", pa.string()),  # the reviewer's reasons
        pa.field("min_frame_dice", pa.float64()),
        pa.field("mean_dice", pa.float64()),  # true accuracy of the case (for judging the ranking)
    ]
)


def make_qc_cases(
    cohort: Path,
    record: SubjectRecord,
    task: Task,
    models: Sequence[tuple[nn.Module, CheckpointMeta, str]],
    qc: QCConfig,
    rng: np.random.Generator,
    device: str | torch.device = "cpu",
) -> list[dict]:
    """The reviewed cases of one subject, one per model (rows of QC_SET_SCHEMA); `models` are
    (network, its description, its `model_version`). Bad input is a row with status 'error' per
    model, so every (subject, model) pair is accounted for."""
    try:
        subject = load_subject(cohort, record, task, with_label=False)
        truth = load_truth(cohort, record, task, subject.image.shape)
    except CohortError as err:
        return [
            {**curves_row(record.subject_id, task, version, error=str(err)), **_NO_REVIEW} for _, _, version in models
        ]
    cases = []
    for model, meta, version in models:
        predicted = segment_subject(
            model, subject.image, task, meta.crop_size, device, meta.seg_config["predict_batch_size"]
        )
        review = dict(_NO_REVIEW)
        if rng.random() < qc.failure_injection_fraction:
            try:
                predicted, review["failure"] = inject_failure(task, predicted, rng, qc.failure_max_px)
            except ValueError as err:  # e.g. no LV to take a basal slice from: the output stays as the model made it
                review["failure"] = f"{NOT_INJECTED}: {err}"
        verdict = review_case(task, predicted, truth, subject.spacing_mm, record.ed_frame, qc, rng)
        curves = task_curves(task, predicted, subject.spacing_mm)
        metrics = task_metrics(task, curves, record.ed_frame, record.central_pulse_pressure_mmhg)
        row = curves_row(
            record.subject_id,
            task,
            version,
            curves,
            metrics,
            qc_error=unscorable_reason(task, curves, qc.resample_length, qc.curve_reference_scale),
        )
        review.update(
            erroneous=verdict.erroneous,
            clinically_erroneous=verdict.clinically_erroneous,
            review="; ".join(verdict.reasons) or None,
            min_frame_dice=verdict.min_frame_dice,
            mean_dice=verdict.mean_dice,
        )
        cases.append({**row, **review})
    return cases


def case_source(case: dict) -> str:
    """Where a case's segmentation came from: its injected failure, or the model that made it as it is."""
    failure = case["failure"]
    return f"injected: {failure}" if failure and not failure.startswith(NOT_INJECTED) else case["model"]


_NO_REVIEW = {
    name: None for name in ("failure", "erroneous", "clinically_erroneous", "review", "min_frame_dice", "mean_dice")
}


def summarise_qc_set(rows: list[dict]) -> dict:
    """Class balance of a QC set, overall and by failure and model; failed and unscorable cases listed."""
    usable = [r for r in rows if r["status"] == STATUS_OK and r["qc_error"] is None]

    def balance(cases: list[dict]) -> dict:
        erroneous = sum(bool(r["erroneous"]) for r in cases)
        return {"n": len(cases), "erroneous": erroneous, "good": len(cases) - erroneous}

    by_failure = Counter(r["failure"] or "none" for r in usable)
    by_model = Counter(r["model"] for r in usable)
    return {
        "cases": len(rows),
        "usable": balance(usable),
        "erroneous_fraction": balance(usable)["erroneous"] / max(len(usable), 1),
        "clinically_erroneous": sum(bool(r["clinically_erroneous"]) for r in usable),
        "by_failure": {
            name: balance([r for r in usable if (r["failure"] or "none") == name]) for name in sorted(by_failure)
        },
        "by_model": {name: balance([r for r in usable if r["model"] == name]) for name in sorted(by_model)},
        "errors": [f"{r['subject_id']}: {r['error']}" for r in rows if r["status"] != STATUS_OK],
        "unscorable": [
            f"{r['subject_id']}: {r['qc_error']}" for r in rows if r["status"] == STATUS_OK and r["qc_error"]
        ],
    }
