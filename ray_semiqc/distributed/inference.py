"""Cohort-scale inference with Ray Data: subject list → decode + preprocess (CPU tasks) →
segment (an actor pool, one network per actor, GPU when given) → curves, clinical metrics and
QC probability (CPU tasks) → Parquet part files → one `curves.parquet`.

    OUT/inference.json            what made the rows (cohort, task, model, QC model, masks); a re-run must match
    OUT/parts/part-<hash>.parquet one file per group of subjects, written to a temp name, then renamed
    OUT/curves.parquet            every input subject exactly once, 'ok' or 'error' with its reason
    OUT/masks/<id>/seg_*.nii.gz   the segmentation on the image's own grid and affine (write_masks=True)

Nothing is lost: a subject whose files are bad becomes an error row (a CohortError, caught in the
decode task), never a failed job; an actor that dies is restarted and its block retried. A re-run
with the same OUT skips every subject that already has a row in a part file.
"""

from __future__ import annotations

import math
import pickle
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import ray
import torch
from ray.data import ActorPoolStrategy

from ray_semiqc.cohort.errors import CohortError
from ray_semiqc.cohort.manifest import read_manifest
from ray_semiqc.config import Config, InferenceConfig
from ray_semiqc.distributed.inference_stages import decode_subjects, measure_subjects, object_column
from ray_semiqc.distributed.session import ensure_ray
from ray_semiqc.files import claim_folder
from ray_semiqc.models.checkpoint import load_checkpoint, model_version
from ray_semiqc.qc.classifier import QCClassifier
from ray_semiqc.qc.curves_table import STATUS_OK, consolidate_parts, subjects_in_parts, write_part
from ray_semiqc.seg.predict import predict_slices
from ray_semiqc.tasks import get_task

CURVES_FILE = "curves.parquet"
PARTS_DIR = "parts"
MASKS_DIR = "masks"
RUN_FILE = "inference.json"


@dataclass(frozen=True)
class InferenceSummary:
    subjects_total: int  # input subjects, each now one row of curves.parquet
    subjects_ok: int
    subjects_error: int
    seconds: float  # wall time of this call
    subjects_per_s: float  # subjects processed by this call (resumed ones excluded) per second
    images_per_s: float  # 2-D images segmented by this call per second
    curves_path: Path
    subjects_resumed: int = 0  # already in OUT from an earlier run, skipped
    seconds_to_first_rows: float = math.nan  # planning, Ray Data start-up and actor start-up: the fixed cost of a call
    steady_subjects_per_s: float = (
        math.nan
    )  # from the first group of rows to the last: the rate a larger cohort runs at

    def __str__(self) -> str:
        resumed = f", {self.subjects_resumed} resumed from an earlier run" if self.subjects_resumed else ""
        steady = (
            f" (first rows after {self.seconds_to_first_rows:.1f} s, then {self.steady_subjects_per_s:.2f} subjects/s)"
            if math.isfinite(self.steady_subjects_per_s)
            else ""
        )
        return (
            f"{self.subjects_total} subjects: {self.subjects_ok} ok, {self.subjects_error} error{resumed}; "
            f"{self.subjects_per_s:.2f} subjects/s, {self.images_per_s:.1f} images/s in {self.seconds:.1f} s{steady} → {self.curves_path}"
        )


@dataclass(frozen=True)
class StreamTimes:
    """What one pass of the pipeline did, and when its rows reached the driver."""

    images: int  # 2-D images segmented
    first_rows_at: float  # time.perf_counter() when the first group of rows arrived
    last_rows_at: float
    subjects_after_first: int  # rows that arrived after the first group


@dataclass(frozen=True)
class InferencePlan:
    """What one call has to do: the subjects still to run, as rows for `ray.data.from_items`."""

    cohort: Path
    task_name: str
    model_path: Path
    model_name: str
    crop_size: int
    out: Path
    qc_model_path: Path | None
    write_masks: bool
    subject_ids: tuple[str, ...]  # every input subject, in input order
    pending: tuple[dict, ...]  # items of the subjects without a row yet

    @property
    def parts_dir(self) -> Path:
        return self.out / PARTS_DIR


def infer_cohort(
    cohort: Path,
    task_name: str,
    model_path: Path,
    out: Path,
    config: Config,
    *,
    qc_model_path: Path | None = None,
    write_masks: bool = False,
    split: str = "unlabelled",
    subject_ids: list[str] | None = None,
) -> InferenceSummary:
    """Segment and measure a cohort's subjects (the `split`, or the given `subject_ids`) → OUT/curves.parquet."""
    started = time.perf_counter()
    plan = plan_inference(
        cohort,
        task_name,
        model_path,
        out,
        qc_model_path=qc_model_path,
        write_masks=write_masks,
        split=split,
        subject_ids=subject_ids,
    )
    streamed = None
    if plan.pending:
        ensure_ray()
        streamed = stream_subjects(plan, config.inference)
    table = consolidate_parts(plan.parts_dir, list(plan.subject_ids), plan.out / CURVES_FILE)
    seconds = time.perf_counter() - started
    statuses = table.column("status").to_pylist()
    processed = len(plan.pending)
    images = streamed.images if streamed else 0
    steady_window = streamed.last_rows_at - streamed.first_rows_at if streamed else 0.0
    return InferenceSummary(
        subjects_total=len(statuses),
        subjects_ok=statuses.count(STATUS_OK),
        subjects_error=len(statuses) - statuses.count(STATUS_OK),
        seconds=seconds,
        subjects_per_s=processed / seconds,
        images_per_s=images / seconds,
        curves_path=plan.out / CURVES_FILE,
        subjects_resumed=len(plan.subject_ids) - processed,
        seconds_to_first_rows=streamed.first_rows_at - started if streamed else math.nan,
        steady_subjects_per_s=streamed.subjects_after_first / steady_window if steady_window > 0 else math.nan,
    )


def plan_inference(
    cohort: Path,
    task_name: str,
    model_path: Path,
    out: Path,
    *,
    qc_model_path: Path | None = None,
    write_masks: bool = False,
    split: str = "unlabelled",
    subject_ids: list[str] | None = None,
) -> InferencePlan:
    """Choose the input subjects, check OUT holds rows of this same model, and list those still to do."""
    cohort, out, model_path = Path(cohort).resolve(), Path(out), Path(model_path)
    task = get_task(task_name)
    network, meta = load_checkpoint(model_path, expect_task=task.name)
    model_name = model_version(network, meta)
    qc_name = None
    if qc_model_path is not None:
        qc_model_path = Path(qc_model_path)
        qc_name = QCClassifier.load(qc_model_path, expect_task=task.name).version_
    claim_folder(
        out / RUN_FILE,
        {"cohort": str(cohort), "task": task.name, "model": model_name, "qc_model": qc_name, "masks": write_masks},
    )
    items = subject_items(cohort, task_name, split, subject_ids)
    done = subjects_in_parts(out / PARTS_DIR)
    return InferencePlan(
        cohort=cohort,
        task_name=task.name,
        model_path=model_path.resolve(),
        model_name=model_name,
        crop_size=meta.crop_size,
        out=out,
        qc_model_path=qc_model_path.resolve() if qc_model_path else None,
        write_masks=write_masks,
        subject_ids=tuple(item["subject_id"] for item in items),
        pending=tuple(item for item in items if item["subject_id"] not in done),
    )


def subject_items(cohort: Path, task_name: str, split: str, subject_ids: list[str] | None) -> list[dict]:
    """One item per input subject: its pickled manifest record, or the problem that makes it unusable.

    The record travels pickled because its free-form phantom parameters would otherwise be widened
    into an Arrow struct. A manifest row that cannot be read has no trustworthy split, so it is an
    error row of every split's output rather than silently of none.
    """
    manifest = read_manifest(cohort)
    records = manifest.by_id()
    problems = {p.subject_id: p for p in manifest.problems if p.subject_id not in records}
    if subject_ids is None:
        wanted = [r.subject_id for r in manifest.split(split)] + list(problems)
    else:
        wanted = list(dict.fromkeys(str(s) for s in subject_ids))  # once each, in the order given
    items = []
    for subject_id in wanted:
        record = records.get(subject_id)
        problem = problems.get(subject_id) or (
            None if record else CohortError(subject_id, None, "not in the cohort manifest")
        )
        items.append(
            {
                "subject_id": subject_id,
                "record": pickle.dumps(record) if record else b"",
                "problem": str(problem) if problem else "",
            }
        )
    return items


def stream_subjects(plan: InferencePlan, settings: InferenceConfig, segmenter_class: type | None = None) -> StreamTimes:
    """Run the pending subjects through the Ray Data pipeline into part files.

    `segmenter_class` replaces `SubjectSegmenter` (a subclass, e.g. one that injects a fault).
    """
    blocks = max(1, math.ceil(len(plan.pending) / settings.subjects_per_block))
    dataset = ray.data.from_items(list(plan.pending), override_num_blocks=blocks)
    _configure_execution(dataset.context, settings)
    gpu = settings.gpus_per_actor > 0
    dataset = dataset.map_batches(
        decode_subjects,
        batch_size=settings.subjects_per_block,
        batch_format="numpy",
        num_cpus=settings.decode_cpus,
        fn_kwargs={"cohort": str(plan.cohort), "task_name": plan.task_name, "crop_size": plan.crop_size},
    )
    dataset = dataset.map_batches(
        segmenter_class or SubjectSegmenter,
        batch_size=settings.subjects_per_block,
        batch_format="numpy",
        compute=ActorPoolStrategy(
            min_size=settings.actors[0],
            max_size=settings.actors[1],
            max_tasks_in_flight_per_actor=settings.tasks_in_flight_per_actor,
        ),
        num_cpus=settings.cpus_per_actor,
        num_gpus=settings.gpus_per_actor,
        fn_constructor_kwargs={
            "model_path": str(plan.model_path),
            "predict_batch_size": settings.predict_batch_size,
            "use_gpu": gpu,
            "torch_threads": settings.torch_threads_per_actor or max(1, int(settings.cpus_per_actor)),
            "bf16_on_gpu": settings.bf16_on_gpu,
            "compile_on_gpu": settings.compile_on_gpu,
        },
        # No max_restarts/max_task_retries here: Ray Data's actor pools already default to -1 for
        # both (restart a dead actor, re-run its block, forever), and passing them is deprecated.
    )
    dataset = dataset.map_batches(
        measure_subjects,
        batch_size=settings.subjects_per_block,
        batch_format="numpy",
        num_cpus=settings.measure_cpus,
        fn_kwargs={
            "task_name": plan.task_name,
            "crop_size": plan.crop_size,
            "model_name": plan.model_name,
            "masks_dir": str(plan.out / MASKS_DIR) if plan.write_masks else None,
            "qc_model_path": str(plan.qc_model_path) if plan.qc_model_path else None,
        },
    )
    # The driver writes the part files: rows are small, it sees each exactly once (a retried task
    # never writes twice), and a group is on disk as soon as it is complete.
    images, arrivals = 0, []
    for block in dataset.iter_batches(batch_size=settings.subjects_per_part, batch_format="pyarrow"):
        arrivals.append((time.perf_counter(), block.num_rows))
        write_part(block, plan.parts_dir)
        images += sum(block.column("n_images").to_pylist())
    return StreamTimes(
        images=images,
        first_rows_at=arrivals[0][0],
        last_rows_at=arrivals[-1][0],
        subjects_after_first=sum(rows for _, rows in arrivals[1:]),
    )


def _configure_execution(context, settings: InferenceConfig) -> None:
    """Settings on the dataset's own DataContext copy (taken when it was created), not the global one."""
    context.enable_progress_bars = True
    context.execution_options.preserve_order = False  # a slow subject must not hold back the others
    # Each operator keeps this share of the CPUs to itself, so the actor pool can never take the
    # CPUs the decode tasks need (an actor pool that starves its own input stalls the pipeline).
    context.op_resource_reservation_enabled = True
    context.op_resource_reservation_ratio = settings.resource_reservation_ratio


class SubjectSegmenter:
    """Actor-pool stage: the network is loaded once per actor; each call segments a block of subjects.

    On a GPU the network runs in bf16 and compiled; on CPU the same code runs in float32.
    """

    def __init__(
        self,
        model_path: str,
        predict_batch_size: int,
        use_gpu: bool,
        torch_threads: int,
        bf16_on_gpu: bool = True,
        compile_on_gpu: bool = True,
    ):
        torch.set_num_threads(torch_threads)
        self.device = torch.device("cuda" if use_gpu and torch.cuda.is_available() else "cpu")
        model, self.meta = load_checkpoint(Path(model_path))
        model = model.to(self.device).eval()
        on_gpu = self.device.type == "cuda"
        self.model = torch.compile(model) if on_gpu and compile_on_gpu else model
        self.bf16 = on_gpu and bf16_on_gpu
        self.predict_batch_size = predict_batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        crop = self.meta.crop_size
        labels = [np.zeros((0, crop, crop), np.uint8) for _ in batch["subject_id"]]
        ok = [index for index, error in enumerate(batch["error"]) if not error]
        if ok:
            # One model pass over all slices of the block: full batches even for small subjects.
            stacked = np.concatenate([batch["slices"][index] for index in ok])
            predicted = predict_slices(self.model, stacked, self.device, self.predict_batch_size, bf16=self.bf16)
            bounds = np.cumsum([len(batch["slices"][index]) for index in ok])[:-1]
            for index, subject_labels in zip(ok, np.split(predicted, bounds)):
                labels[index] = subject_labels
        result = {name: column for name, column in batch.items() if name != "slices"}
        result["label_slices"] = object_column(labels)
        return result
