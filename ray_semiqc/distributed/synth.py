"""Phantom cohort generation as one Ray task per subject.

`plan_cohort` fixes every subject's seed up front and `write_subject` depends only on its
spec, so the cohort is the same bytes as `cohort.phantom.write_cohort` (serial) writes,
whatever the number of workers or the order tasks finish in. Workers write straight into
`out` (shared storage on a cluster); only the small `SubjectRecord`s come back.
"""

from __future__ import annotations

from pathlib import Path

import ray
from ray.experimental.tqdm_ray import tqdm

from ray_semiqc.cohort.manifest import Manifest, read_manifest, write_manifest
from ray_semiqc.cohort.phantom import plan_cohort, write_subject
from ray_semiqc.cohort.phantom.montage import write_montage
from ray_semiqc.config import Config
from ray_semiqc.distributed.session import ensure_ray

TASKS_IN_FLIGHT_PER_CPU = 2  # enough queued work to keep every core busy, without holding 100k refs at once
MONTAGE_FILE = "montage.png"


@ray.remote(num_cpus=1)
def _write_subject_task(out: str, spec, phantom_config):
    return write_subject(Path(out), spec, phantom_config)


def synthesise_cohort(
    out: Path, config: Config, seed: int, n_unlabelled: int | None = None, montage: bool = False
) -> Manifest:
    """Write the preset's phantom cohort under `out`; `n_unlabelled` resizes the unlabelled pool."""
    ensure_ray()
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    specs = plan_cohort(config.phantom, seed, n_unlabelled)
    phantom_ref = ray.put(config.phantom)
    window = max(1, int(ray.cluster_resources().get("CPU", 1)) * TASKS_IN_FLIGHT_PER_CPU)
    records: dict[str, object] = {}
    pending: dict[ray.ObjectRef, str] = {}
    progress = tqdm(total=len(specs), desc="synthesise cohort")
    for spec in specs:
        pending[_write_subject_task.remote(str(out), spec, phantom_ref)] = spec.subject_id
        while len(pending) >= window:
            _collect(pending, records, progress)
    while pending:
        _collect(pending, records, progress)
    progress.close()
    write_manifest(out, [records[spec.subject_id] for spec in specs])
    manifest = read_manifest(out)
    if montage and manifest.records:
        shown = next((r for r in manifest.records if r.split == "test"), manifest.records[0])
        write_montage(out, shown, out / MONTAGE_FILE)
    return manifest


def _collect(pending: dict, records: dict, progress) -> None:
    done, _ = ray.wait(list(pending), num_returns=1)
    for ref in done:
        records[pending.pop(ref)] = ray.get(ref)
        progress.update(1)
