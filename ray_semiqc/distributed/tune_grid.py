"""The scenario × task × seed grid of segmentation runs as Ray Tune trials.

Train V2 pattern: a Tune *function* trainable builds the segmentation TorchTrainer for its trial and
calls `.fit()`, with `TuneReportCallback` relaying each validation to Tune. A trial holds no
CPU itself (it only drives its Ray Train run), so `max_concurrent_trials` and the cluster's
free CPUs/GPUs decide how many runs train at once: one after another on a small laptop, the
whole grid in parallel on a cluster, with the same code. Each trial's Ray Train
run has a fixed name and storage folder, so a re-run continues from its last checkpoint.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ray import tune
from ray.tune.integration.ray_train import TuneReportCallback

from ray_semiqc.cohort.manifest import read_manifest
from ray_semiqc.config import Config
from ray_semiqc.distributed.train_seg import SegRun, make_seg_trainer
from ray_semiqc.run_layout import seed_name
from ray_semiqc.seg.dataset import PseudoLabelled


@dataclass(frozen=True)
class SegTrial:
    """One segmentation run of the grid: what to train on and where its model goes."""

    key: str  # the coordinator's work-item key
    task: str
    scenario: str
    seed: int
    subset: str  # the labelled subset: full, or the seeded half every SSL scenario starts from
    out: str  # folder of model.pt (and snapshots/)
    snapshot_steps: tuple[int, ...] = ()
    pseudo_labelled: tuple[tuple[str, str], ...] = field(default=())  # (subject id, full-cycle label path)

    @property
    def run_name(self) -> str:
        return f"seg_{self.task}_{self.scenario}_{seed_name(self.seed)}"


def seg_trial(trial_config: dict) -> None:
    """Tune function trainable: one Ray Train run reporting through Tune."""
    trial = SegTrial(**trial_config["trial"])
    config = Config.from_json(trial_config["config_json"])
    cohort = Path(trial_config["cohort"])
    records = read_manifest(cohort).by_id()
    run = SegRun(
        cohort=cohort,
        task=trial.task,
        subset=trial.subset,
        out=Path(trial.out),
        seed=trial.seed,
        pseudo_labelled=tuple(PseudoLabelled(records[sid], Path(path)) for sid, path in trial.pseudo_labelled),
        snapshot_steps=trial.snapshot_steps,
        name=trial.run_name,
    )
    experiment = config.experiment
    make_seg_trainer(
        run,
        config,
        workers=experiment.train_workers,
        use_gpu=experiment.train_use_gpu,
        callbacks=[TuneReportCallback()],
    ).fit()


def trial_resources(config: Config) -> dict[str, float]:
    """Tune needs a non-empty bundle per trial: memory (bytes, as Ray counts it) and usually no CPU."""
    experiment = config.experiment
    return {"cpu": experiment.trial_cpus, "memory": experiment.trial_memory_mib * 2**20}


def run_seg_grid(
    trials: list[SegTrial], cohort: Path, config: Config, storage: Path, name: str
) -> dict[str, str | None]:
    """Run every trial (at most `max_concurrent_trials` at once); trial key → error text, or None if it trained."""
    if not trials:
        return {}
    tuner = tune.Tuner(
        tune.with_resources(seg_trial, trial_resources(config)),
        param_space={
            "trial": tune.grid_search([asdict(trial) for trial in trials]),
            "config_json": config.to_json(),
            "cohort": str(Path(cohort).resolve()),
        },
        tune_config=tune.TuneConfig(max_concurrent_trials=config.experiment.max_concurrent_trials),
        run_config=tune.RunConfig(name=name, storage_path=str(Path(storage).resolve()), verbose=1),
    )
    outcome = {}
    for result in tuner.fit():
        key = result.config["trial"]["key"]
        outcome[key] = None if result.error is None else f"{type(result.error).__name__}: {result.error}"
    return outcome
