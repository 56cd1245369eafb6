"""Training images/s: the bare torch loop vs the Ray Train path, same data, same config, one run.

Both run `seg.train.train_segmenter` on the same slice sets; the Ray path feeds it a Ray
Data shard inside a 1-worker TorchTrainer holding every CPU (`make_seg_trainer`). Steady-state
images/s comes from the loop's own per-validation timing, the first interval (warm-up)
dropped; wall times (Ray's include trainer start-up) are reported beside it.

    python benchmarks/train_throughput.py                   # demo seg config on a smoke phantom cohort
    python benchmarks/train_throughput.py --cohort runs/demo/cohort --steps 120

Last line: JSON with "benchmark", figures per network, "cpus", "gpu" and "ratio" = the lower
of the two networks' Ray ÷ bare steady-state images/s (goal ≥ 0.9).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import ray
import torch

from ray_semiqc.config import load_preset
from ray_semiqc.distributed.train_seg import SegRun, build_seg_datasets, make_seg_trainer
from ray_semiqc.models.checkpoint import load_checkpoint
from ray_semiqc.seg.train import train_segmenter
from ray_semiqc.tasks import get_task


def steady_images_per_s(history) -> float:
    return float(np.mean([h["worker_images_per_s"] for h in history[1:]]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo", help="whose seg section (networks, crop, batch) to use")
    parser.add_argument("--cohort", type=Path, default=None, help="default: a smoke phantom cohort in a temp folder")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--cpus", type=int, default=os.cpu_count())
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="train_throughput_"))
    cohort = args.cohort
    if cohort is None:
        from ray_semiqc.cohort.phantom import write_cohort

        cohort = scratch / "cohort"
        write_cohort(cohort, load_preset("smoke").phantom, seed=args.seed)
    config = load_preset(args.preset).replace(
        seg={
            "train_steps": args.steps,
            "validate_every_steps": max(args.steps // 4, 1),
            "cpus_per_worker": float(args.cpus),
        }
    )
    torch.set_num_threads(args.cpus)
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    figures = {}
    for task_name in ("sax", "aorta"):
        task = get_task(task_name)
        out = scratch / f"ray_{task_name}"
        run = SegRun(cohort=cohort, task=task_name, subset="full", out=out, seed=args.seed)
        train_set, val_set = build_seg_datasets(run, config)
        started = time.perf_counter()
        bare = train_segmenter(config, task, train_set, val_set, "cpu", args.seed)
        bare_wall_s = time.perf_counter() - started
        started = time.perf_counter()
        make_seg_trainer(run, config, workers=1, use_gpu=False).fit()
        ray_wall_s = time.perf_counter() - started
        _, ray_meta = load_checkpoint(out / "model.pt")
        bare_rate, ray_rate = steady_images_per_s(bare.meta.history), steady_images_per_s(ray_meta.history)
        figures[config.seg.network[task_name]] = {
            "task": task_name,
            "crop_size": config.seg.crop_size[task_name],
            "batch_size": config.seg.batch_size,
            "steps": args.steps,
            "bare_img_per_s": round(bare_rate, 1),
            "ray_img_per_s": round(ray_rate, 1),
            "bare_wall_s": round(bare_wall_s, 1),
            "ray_wall_s": round(ray_wall_s, 1),
            "ratio": round(ray_rate / bare_rate, 3),
        }
        print(figures[config.seg.network[task_name]], flush=True)
    ray.shutdown()
    shutil.rmtree(scratch)
    print(
        json.dumps(
            {
                "benchmark": "train_throughput",
                "preset": args.preset,
                "figures": figures,
                "cpus": args.cpus,
                "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
                "ratio": min(f["ratio"] for f in figures.values()),
            }
        )
    )


if __name__ == "__main__":
    main()
