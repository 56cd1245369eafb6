"""The QC stage on Ray: build the reviewed QC set, train the classifier with Ray Train, score curves.

    semiqc qc build-set --cohort C --task sax --models M1.pt M2.pt --out RUN/qc/sax/seed0 --preset demo
    semiqc qc train --set RUN/qc/sax/seed0 --out RUN/qc/sax/seed0 --preset demo
    semiqc qc score --curves RUN/inference/sax/seed0/curves.parquet --model RUN/qc/sax/seed0/model.pt --out R
    semiqc qc assess --set RUN/qc/sax/seed0 --out RUN/qc/sax/seed0 --preset demo

Building the set is one Ray task per qc_train subject (segment it with every model, maybe
inject a failure, review against truth); training is a TorchTrainer whose workers run the pure
`QCClassifier.fit`; the driver then chooses the operating threshold on calibration
subjects and reports it on test subjects (both qc_train, neither seen in training). `assess`
cross-validates the same method over all qc_train subjects, one Ray task a fold.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import ray
import ray.train
import ray.train.torch
from ray.train import RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from ray_semiqc.cohort.manifest import SubjectRecord, read_manifest
from ray_semiqc.config import Config
from ray_semiqc.distributed.session import ensure_ray
from ray_semiqc.files import atomic_write, write_json
from ray_semiqc.models.checkpoint import load_checkpoint, model_version
from ray_semiqc.qc.assessment import (
    ASSESSMENT_FILE,
    QCAssessment,
    QCSplit,
    assess_fold,
    calibrate_and_assess,
    pool_folds,
    split_subjects,
    subject_folds,
)
from ray_semiqc.qc.cases import QC_SET_SCHEMA, SET_FILE, SUMMARY_FILE, make_qc_cases, summarise_qc_set
from ray_semiqc.qc.classifier import QCClassifier
from ray_semiqc.qc.curves_table import CURVES_SCHEMA, STATUS_OK, read_curves_table, row_curves
from ray_semiqc.qc.ranking import rank_cases, score_rows
from ray_semiqc.run_layout import seed_name
from ray_semiqc.tasks import get_task

MODEL_FILE = "model.pt"
CROSS_VALIDATION_FILE = "qc_cross_validation.json"
RANKING_FILE = "ranking.parquet"
STORAGE_DIR = "ray_train"


@ray.remote(num_cpus=1)
def _qc_cases_task(
    cohort: str,
    record: SubjectRecord,
    task_name: str,
    versioned_paths: list[tuple[str, str]],
    config_json: str,
    seed: int,
    index: int,
) -> list[dict]:
    config = Config.from_json(config_json)
    models = [(*load_checkpoint(path, expect_task=task_name), version) for path, version in versioned_paths]
    rng = np.random.default_rng([seed, index])  # one stream per subject: the set does not depend on scheduling
    return make_qc_cases(Path(cohort), record, get_task(task_name), models, config.qc, rng)


def build_qc_set(
    cohort: Path, task_name: str, model_paths: Sequence[Path], out: Path, config: Config, seed: int
) -> Path:
    """Segment every qc_train subject with every model, inject, review → OUT/set.parquet (one Ray
    task per subject: its image and truth are read once for all models).

    Returns OUT; OUT/set_summary.json records the class balance, by failure and by model.
    """
    if not model_paths:
        raise ValueError("a QC set needs at least one segmentation model")
    versioned_paths = []
    for path in model_paths:  # fail before fanning out, not once per subject
        versioned_paths.append((str(path), model_version(*load_checkpoint(path, expect_task=task_name))))
    records = read_manifest(cohort).split("qc_train")
    if not records:
        raise ValueError(f"{cohort}: the cohort has no qc_train subjects")
    ensure_ray()
    config_json = config.to_json()
    futures = [
        _qc_cases_task.remote(str(cohort), record, task_name, versioned_paths, config_json, seed, index)
        for index, record in enumerate(records)
    ]
    rows = [case for cases in ray.get(futures) for case in cases]
    out = Path(out)
    with atomic_write(out / SET_FILE) as partial:
        pq.write_table(pa.Table.from_pylist(rows, schema=QC_SET_SCHEMA), partial)
    summary = {"task": task_name, "models": [str(p) for p in model_paths], "seed": seed, **summarise_qc_set(rows)}
    write_json(out / SUMMARY_FILE, summary)
    return out


def _usable_cases(set_dir: Path) -> list[dict]:
    rows = pq.read_table(Path(set_dir) / SET_FILE).to_pylist()
    return [r for r in rows if r["status"] == STATUS_OK and r["qc_error"] is None]


def qc_train_loop(loop_config: dict) -> None:
    """Per-worker body: `QCClassifier.fit` on this worker's share of the training cases."""
    config = Config.from_json(loop_config["config_json"])
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    train_subjects = set(loop_config["train_subjects"])
    cases = [c for c in _usable_cases(loop_config["set_dir"]) if c["subject_id"] in train_subjects][rank::world]
    classifier = QCClassifier.from_config(loop_config["task"], config.qc, seed=loop_config["seed"])
    # One report at the end: a QC fit takes seconds, so resuming mid-way would buy nothing.
    classifier.fit(
        [row_curves(c) for c in cases], [c["erroneous"] for c in cases], prepare_network=ray.train.torch.prepare_model
    )
    metrics = {"epochs": classifier.epochs, "train_loss": classifier.training_loss_[-1]}
    if rank != 0:  # DDP keeps the replicas identical: rank 0's copy is the model
        ray.train.report(metrics)
        return
    folder = Path(tempfile.mkdtemp(prefix="qc_checkpoint_"))
    classifier.save(folder / MODEL_FILE)
    ray.train.report(
        metrics, checkpoint=ray.train.Checkpoint.from_directory(folder), delete_local_checkpoint_after_upload=True
    )


def make_qc_trainer(
    set_dir: Path, out: Path, config: Config, seed: int, workers: int, train_subjects: Sequence[str]
) -> TorchTrainer:
    """A TorchTrainer for the QC classifier; `workers=0` runs in this process (unit tests)."""
    task_name = _usable_cases(set_dir)[0]["task"]
    loop_config = {
        "config_json": config.to_json(),
        "task": task_name,
        "seed": seed,
        "set_dir": str(Path(set_dir).resolve()),
        "train_subjects": list(train_subjects),
    }
    return TorchTrainer(
        qc_train_loop,
        train_loop_config=loop_config,
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=False),
        run_config=RunConfig(
            name=f"qc_{task_name}_{seed_name(seed)}", storage_path=str(Path(out).resolve() / STORAGE_DIR)
        ),
    )


def train_qc_on_ray(set_dir: Path, out: Path, config: Config, seed: int, workers: int) -> Path:
    """Train on some qc_train subjects, choose the threshold on others, judge it on the rest → OUT/model.pt.

    OUT/qc_assessment.json (beside the model, not in it) holds the test cases' verdicts, scores and
    sources (`QCAssessment`), the calibration figures, the training-set size and the split.
    """
    cases = _usable_cases(set_dir)
    if not cases:
        raise ValueError(f"{set_dir}: the QC set has no usable cases")
    split = split_subjects(cases, config.qc.calibration_fraction, config.qc.test_fraction, seed)
    result = make_qc_trainer(set_dir, out, config, seed, workers, split.train).fit()
    with result.checkpoint.as_directory() as folder:
        classifier = QCClassifier.load(Path(folder) / MODEL_FILE, expect_task=cases[0]["task"])

    assessment = calibrate_and_assess(classifier, cases, split, config.qc)
    out = Path(out)
    model_path = classifier.save(out / MODEL_FILE)
    calibration = classifier.operating_point_
    write_json(
        out / ASSESSMENT_FILE,
        {
            "assessment": assessment.as_dict(),
            "qc_model": classifier.version_,
            "n_train": classifier.n_train_,
            "n_train_erroneous": classifier.n_train_erroneous_,
            "calibration": {
                "n": calibration.n,
                "sensitivity": calibration.sensitivity,
                "specificity": calibration.specificity,
                "auc": calibration.auc,
            },
            "subjects": {"train": split.train, "calibration": split.calibration, "test": split.test},
        },
    )
    return model_path


@ray.remote(num_cpus=1)
def _assess_fold_task(set_dir: str, task_name: str, config_json: str, split: QCSplit, seed: int) -> QCAssessment:
    return assess_fold(task_name, Config.from_json(config_json).qc, _usable_cases(Path(set_dir)), split, seed)


def cross_validate_qc_on_ray(set_dir: Path, out: Path, config: Config, seed: int) -> Path:
    """Every qc_train subject tested once: config.qc.assessment_folds folds, each a classifier trained,
    calibrated and tested on its own subjects, one Ray task a fold → OUT/qc_cross_validation.json.

    The deployed classifier (`train_qc_on_ray`) is unchanged; this measures the method more tightly
    than its one test split can (pooled sensitivity with its Wilson interval, per-fold AUC).
    """
    cases = _usable_cases(set_dir)
    if not cases:
        raise ValueError(f"{set_dir}: the QC set has no usable cases")
    task_name = cases[0]["task"]
    folds = subject_folds(cases, config.qc.assessment_folds, config.qc.calibration_fraction, seed)
    ensure_ray()
    config_json = config.to_json()
    assessed = ray.get(
        [_assess_fold_task.remote(str(Path(set_dir).resolve()), task_name, config_json, split, seed) for split in folds]
    )
    report = {
        **pool_folds(task_name, assessed, config.qc.target_sensitivity),
        "test_subjects_per_fold": [split.test for split in folds],
    }
    return write_json(Path(out) / CROSS_VALIDATION_FILE, report)


def score_curves(curves_path: Path, qc_model_path: Path, out: Path) -> Path:
    """Score a curves.parquet with a QC model and rank it → OUT/ranking.parquet (the audit trail of a selection)."""
    table = read_curves_table(curves_path)
    tasks = set(table.column("task").to_pylist())
    if len(tasks) > 1:
        raise ValueError(f"{curves_path}: holds tasks {sorted(tasks)}; score one task at a time")
    classifier = QCClassifier.load(qc_model_path, expect_task=tasks.pop() if tasks else None)
    scored = pa.Table.from_pylist(score_rows(table.to_pylist(), classifier), schema=CURVES_SCHEMA)
    path = Path(out) / RANKING_FILE
    with atomic_write(path) as partial:
        pq.write_table(rank_cases(scored), partial)
    return path
