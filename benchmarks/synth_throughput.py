"""Phantom synthesis at `paper` size: a serial loop vs one Ray task per subject, in one run.

    .venv/bin/python benchmarks/synth_throughput.py --subjects 4

Both write the same cohort (same seed, byte-identical files); the ratio is Ray subjects/s ÷
serial subjects/s. Ray start-up is outside the timing, worker start-up (imports) inside it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import ray

from ray_semiqc.cohort.phantom import write_cohort
from ray_semiqc.config import load_preset
from ray_semiqc.distributed.synth import synthesise_cohort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--cpus", type=int, default=os.cpu_count())
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    # paper-size subjects (192×208, 10 slices × 50 frames, 100 aortic frames), only `--subjects` of them
    config = load_preset(
        "paper",
        phantom={
            "labelled_subjects": args.subjects,
            "labelled_aorta_subjects": args.subjects,
            "test_subjects": 0,
            "qc_train_subjects": 0,
            "unlabelled_subjects": 0,
        },
    )
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        serial = write_cohort(Path(scratch) / "serial", config.phantom, args.seed)
        serial_s = time.perf_counter() - start

        ray.init(num_cpus=args.cpus, include_dashboard=False)
        start = time.perf_counter()
        parallel = synthesise_cohort(Path(scratch) / "ray", config, args.seed)
        ray_s = time.perf_counter() - start
        ray.shutdown()
        assert serial.records == parallel.records, "serial and Ray cohorts differ"

    serial_rate, ray_rate = args.subjects / serial_s, args.subjects / ray_s
    print(
        f"serial: {serial_rate:.3f} subjects/s ({serial_s:.1f} s); ray tasks on {args.cpus} CPUs: {ray_rate:.3f} subjects/s ({ray_s:.1f} s)"
    )
    print(
        json.dumps(
            {
                "benchmark": "synth_throughput",
                "preset": "paper",
                "subjects": args.subjects,
                "serial_subjects_per_s": round(serial_rate, 4),
                "ray_subjects_per_s": round(ray_rate, 4),
                "cpus": args.cpus,
                "gpu": None,
                "ratio": round(ray_rate / serial_rate, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
