"""Cohort inference: the naive single-process loop a user would write vs the Ray Data pipeline.

    .venv/bin/python benchmarks/infer_throughput.py                       # 1,000 demo-sized subjects, ~13 min on 2 cores
    .venv/bin/python benchmarks/infer_throughput.py --subjects 200 --scaling-subjects 16   # a quicker look

All on one generated cohort (the preset's phantom, unlabelled subjects only) and one SAX
network of the preset's size (weights do not change the speed):
  naive     load the model, then load → segment → curves + metrics, one subject at a time, torch's
            default threads, over the whole cohort
  decode    ceiling: parallel nibabel decode + preprocessing alone, one process per core
  model     ceiling: the network alone on in-memory slices, one single-threaded process per core
  pipeline  `infer_cohort` end to end on a started, idle local Ray (planning, the segmentation
            actors' start-up and the final Parquet included),
            and its steady rate from the first group of rows to the last
Both ceilings are timed on the first `--rate-subjects` of the cohort (no start-up inside their
timers); the naive loop and the pipeline run over all of it. Neither timer holds the script's own
imports, the same for both; the pipeline's holds its actors' start-up (a process each, importing
torch and MONAI), as the naive loop's holds its model load.
On CPU, decode and model share the cores, so the bound is 1 / (1/decode + 1/model); with a GPU
it is min(decode, model). The last line is one JSON object; "ratio" = pipeline / naive, and
"fraction_of_bound" is end to end (start-up included).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import ray
import torch

from ray_semiqc.cohort.manifest import write_manifest
from ray_semiqc.cohort.phantom import plan_cohort, write_subject
from ray_semiqc.cohort.subject import load_subject
from ray_semiqc.config import Config, load_preset
from ray_semiqc.distributed.inference import infer_cohort
from ray_semiqc.measures import task_curves, task_metrics
from ray_semiqc.models.checkpoint import CheckpointMeta, load_checkpoint, save_checkpoint
from ray_semiqc.models.registry import build_network, network_arguments
from ray_semiqc.seg.predict import predict_slices, segment_subject
from ray_semiqc.seg.preprocess import prepare_slices
from ray_semiqc.tasks import SAX


def write_unlabelled_cohort(root: Path, config: Config, n_subjects: int, seed: int, cpus: int) -> list:
    """The preset's phantom, unlabelled subjects only (the pool cohort inference runs over), one process per core."""
    specs = [spec for spec in plan_cohort(config.phantom, seed, n_unlabelled=n_subjects) if spec.split == "unlabelled"]
    with ProcessPoolExecutor(max_workers=cpus, mp_context=multiprocessing.get_context("spawn")) as pool:
        records = list(pool.map(write_subject, [root] * len(specs), specs, [config.phantom] * len(specs), chunksize=8))
    write_manifest(root, records)
    return records


def write_model(path: Path, config: Config) -> Path:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = build_network(config.seg.network["sax"], SAX, config.seg)
    meta = CheckpointMeta(
        network=config.seg.network["sax"],
        task="sax",
        arguments=network_arguments(config.seg.network["sax"], SAX, config.seg),
        preset=config.preset,
        crop_size=config.seg.crop_size["sax"],
        normalisation=SAX.normalisation,
        step=0,
        validation_dice=math.nan,
        seg_config=dataclasses.asdict(config.seg),
    )
    return save_checkpoint(path, network, meta)


def naive_loop(cohort: Path, records: list, model_path: Path, config: Config) -> float:
    """Subjects/s of the loop a user would write first (its model load included)."""
    crop, batch = config.seg.crop_size["sax"], config.inference.predict_batch_size
    started = time.perf_counter()
    model, _ = load_checkpoint(model_path)
    for record in records:
        subject = load_subject(cohort, record, SAX, with_label=False)
        labels = segment_subject(model, subject.image, SAX, crop, "cpu", batch)
        task_metrics(
            SAX, task_curves(SAX, labels, subject.spacing_mm), record.ed_frame, record.central_pulse_pressure_mmhg
        )
    return len(records) / (time.perf_counter() - started)


def _decode(cohort: Path, record, crop: int) -> np.ndarray:
    return prepare_slices(load_subject(cohort, record, SAX, with_label=False).image, SAX, crop)[0]


def decode_ceiling(cohort: Path, records: list, crop: int, cpus: int) -> float:
    """Subjects/s of decode + preprocessing alone, one process per core (pool started beforehand)."""
    with ProcessPoolExecutor(max_workers=cpus) as pool:
        list(pool.map(_decode, [cohort] * cpus, records[:cpus], [crop] * cpus))  # start the workers
        started = time.perf_counter()
        list(pool.map(_decode, [cohort] * len(records), records, [crop] * len(records)))
        return len(records) / (time.perf_counter() - started)


_START_LINE = None  # the barrier every model-ceiling process waits at; set by _join_start_line


def _timed_predictions(model_path: Path, cohort: Path, records: list, crop: int, batch: int) -> tuple[int, float]:
    """In a pool process: decode this share of subjects, wait for the others, then time the network alone."""
    torch.set_num_threads(1)
    model, _ = load_checkpoint(model_path)
    slices = [_decode(cohort, record, crop) for record in records]
    predict_slices(model, slices[0], "cpu", batch)  # warm-up: first-call allocations
    _START_LINE.wait()
    started = time.perf_counter()
    for subject_slices in slices:
        predict_slices(model, subject_slices, "cpu", batch)
    return len(slices), time.perf_counter() - started


def _join_start_line(barrier) -> None:
    global _START_LINE  # the pool's processes get the barrier at start-up; it cannot travel as an argument
    _START_LINE = barrier


def model_ceiling(cohort: Path, records: list, model_path: Path, config: Config, cpus: int) -> float:
    """Subjects/s of the network alone on in-memory slices, one single-threaded process per core, all
    starting together: the most the cores can give the model (more than one process of `cpus` threads)."""
    context = multiprocessing.get_context("spawn")  # fork after torch has started threads is unsafe
    barrier = context.Barrier(cpus)
    shares = [records[index::cpus] for index in range(cpus)]
    crop, batch = config.seg.crop_size["sax"], config.inference.predict_batch_size
    with context.Pool(cpus, initializer=_join_start_line, initargs=(barrier,)) as pool:
        results = pool.starmap(_timed_predictions, [(model_path, cohort, share, crop, batch) for share in shares])
    return sum(n for n, _ in results) / max(seconds for _, seconds in results)


def start_ray_and_settle(cpus: int, settle_s: float = 10.0) -> None:
    """A fresh local Ray of `cpus` CPUs, left to finish starting, as a job finds a running cluster.

    `ray.init` returns while its own processes (GCS, agents, log monitor, prestarted workers) are
    still importing, and the first Dataset starts Ray Data's per-cluster stats and autoscaling
    actors; on 2 cores that start-up storm took ~10 s of the CPUs the pipeline is timed on.
    """
    ray.shutdown()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    ray.data.range(1).map_batches(lambda batch: batch).materialize()
    time.sleep(settle_s)


def pipeline(cohort: Path, model_path: Path, out: Path, config: Config, cpus: int, subject_ids=None):
    """One `infer_cohort` run on a settled local Ray of `cpus` CPUs (segmentation actors start inside it)."""
    start_ray_and_settle(cpus)
    try:
        return infer_cohort(cohort, "sax", model_path, out, config, subject_ids=subject_ids)
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--subjects", type=int, default=1000, help="unlabelled subjects in the cohort")
    parser.add_argument(
        "--rate-subjects", type=int, default=32, help="subjects the naive loop and the ceilings are timed on"
    )
    parser.add_argument("--scaling-subjects", type=int, default=32, help="subjects per row of the scaling table")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--work", type=Path, default=None, help="folder for the cohort and outputs (default: a temp dir)"
    )
    args = parser.parse_args()
    config = load_preset(args.preset)
    cpus = os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    work = args.work or Path(tempfile.mkdtemp(prefix="infer_throughput_"))
    cohort = work / "cohort"

    started = time.perf_counter()
    records = write_unlabelled_cohort(cohort, config, args.subjects, args.seed, cpus)
    print(
        f"cohort: {len(records)} unlabelled {args.preset} subjects in {time.perf_counter() - started:.0f} s → {cohort}"
    )
    model_path = write_model(work / "model.pt", config)

    crop = config.seg.crop_size["sax"]
    sample = records[: args.rate_subjects]
    decode = decode_ceiling(cohort, sample, crop, cpus)
    print(f"decode ceiling ({cpus} processes): {decode:.2f} subjects/s")
    model_rate = model_ceiling(cohort, sample, model_path, config, cpus)
    images_per_subject = len(_decode(cohort, records[0], crop))
    print(
        f"model ceiling ({cpus} single-threaded processes): {model_rate:.2f} subjects/s, {model_rate * images_per_subject:.0f} images/s"
    )
    bound = min(decode, model_rate) if gpu else 1.0 / (1.0 / decode + 1.0 / model_rate)
    naive = naive_loop(cohort, records, model_path, config)
    print(f"naive loop: {naive:.2f} subjects/s")

    summary = pipeline(cohort, model_path, work / "pipeline", config, cpus)
    print(f"pipeline: {summary}")
    fraction = summary.subjects_per_s / bound

    # Scaling over CPUs, actor counts and torch threads per actor, on the first subjects of the cohort.
    subset = [record.subject_id for record in records[: args.scaling_subjects]]
    rows = [
        {"cpus": 1, "actors": (1, 1), "cpus_per_actor": 0.5, "torch_threads_per_actor": 1},
        *(
            {"cpus": cpus, "actors": actors, "cpus_per_actor": per_actor, "torch_threads_per_actor": threads}
            for actors, per_actor, threads in (((1, 1), 1.0, 1), ((1, 1), 1.0, cpus), ((cpus, cpus), 0.75, 1))
        ),
    ]
    scaling = []
    for row in rows:
        overrides = {key: value for key, value in row.items() if key != "cpus"}
        out = work / ("scaling_" + "_".join(f"{key}{value}" for key, value in row.items()).replace(" ", ""))
        row_summary = pipeline(
            cohort, model_path, out, config.replace(inference=overrides), row["cpus"], subject_ids=subset
        )
        scaling.append({**row, "actors": list(row["actors"]), "subjects_per_s": round(row_summary.subjects_per_s, 3)})
    print(f"{'cpus':>4} {'actors':>7} {'cpu/actor':>9} {'threads':>7} {'subjects/s':>10}")
    for row in scaling:
        actors = "{}-{}".format(*row["actors"])
        print(
            f"{row['cpus']:>4} {actors:>7} {row['cpus_per_actor']:>9} {row['torch_threads_per_actor']:>7} {row['subjects_per_s']:>10.2f}"
        )

    result = {
        "benchmark": "infer_throughput",
        "preset": args.preset,
        "subjects": len(records),
        "images_per_subject": images_per_subject,
        "naive_subjects_per_s": round(naive, 3),
        "pipeline_subjects_per_s": round(summary.subjects_per_s, 3),
        "pipeline_images_per_s": round(summary.images_per_s, 1),
        "pipeline_seconds": round(summary.seconds, 1),
        "pipeline_seconds_to_first_rows": round(summary.seconds_to_first_rows, 1),
        "pipeline_steady_subjects_per_s": round(summary.steady_subjects_per_s, 3),
        "steady_fraction_of_bound": round(summary.steady_subjects_per_s / bound, 3),
        "rate_subjects": len(sample),
        "decode_subjects_per_s": round(decode, 3),
        "model_subjects_per_s": round(model_rate, 3),
        "bound_subjects_per_s": round(bound, 3),
        "fraction_of_bound": round(fraction, 3),
        "scaling": scaling,
        "cpus": cpus,
        "gpu": gpu,
        "ratio": round(summary.subjects_per_s / naive, 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
