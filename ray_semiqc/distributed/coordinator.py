"""The experiment's state and order, owned by one actor and persisted in RUN/state.json.

Stages run in a fixed order; each has work items (one per task × seed, or per trained
model). An item is done once its outputs are recorded, and every record is written to
`state.json` at once (temp file, then rename), so a driver that dies and is started again
with the same RUN folder resumes at the first item not yet done.
"""

from __future__ import annotations

import json
from pathlib import Path

import ray

from ray_semiqc.config import ExperimentConfig
from ray_semiqc.files import write_json
from ray_semiqc.run_layout import RunLayout, WorkItem

BASELINE_SCENARIOS = ("full", "half")
SSL_SCENARIOS = ("ssl_noqc", "ssl_crf", "semiqcseg")
# train full/half → QC classifier → half-model inference over the pool → selection (+ CRF) →
# train the SSL scenarios → evaluate every model on the test split → tables and report
STAGES = ("train_baselines", "qc", "inference", "selection", "train_ssl", "evaluate", "results")


def trained_scenarios(experiment: ExperimentConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(baselines, SSL scenarios) to train; every SSL scenario starts from the half model, so it implies `half`."""
    unknown = set(experiment.scenarios) - set(BASELINE_SCENARIOS + SSL_SCENARIOS)
    if unknown:
        raise ValueError(f"unknown scenario(s) {sorted(unknown)}; choose from {BASELINE_SCENARIOS + SSL_SCENARIOS}")
    ssl = tuple(s for s in SSL_SCENARIOS if s in experiment.scenarios)
    baselines = tuple(s for s in BASELINE_SCENARIOS if s in experiment.scenarios or (s == "half" and ssl))
    return baselines, ssl


def plan_items(experiment: ExperimentConfig, stage: str) -> list[WorkItem]:
    baselines, ssl = trained_scenarios(experiment)
    task_seeds = [(task, seed) for task in experiment.tasks for seed in experiment.seeds]
    if stage == "train_baselines":
        return [WorkItem(stage, t, s, k) for t, k in task_seeds for s in baselines]
    if stage in ("qc", "inference", "selection"):
        return [WorkItem(stage, t, None, k) for t, k in task_seeds] if ssl else []
    if stage == "train_ssl":
        return [WorkItem(stage, t, s, k) for t, k in task_seeds for s in ssl]
    if stage == "evaluate":
        return [WorkItem(stage, t, s, k) for t, k in task_seeds for s in baselines + ssl]
    if stage == "results":
        return [WorkItem(stage)]
    raise ValueError(f"unknown stage {stage!r}; stages are {STAGES}")


class ExperimentState:
    """Which items are done and what they produced; the file is the truth, this is its cache."""

    def __init__(self, run_dir: Path, experiment: ExperimentConfig):
        self.path = RunLayout(run_dir).state
        self.experiment = experiment
        saved = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.completed: dict[str, dict] = saved.get("completed", {})
        self.timings_s: dict[str, float] = saved.get("timings_s", {})

    def next_stage(self) -> tuple[str, list[WorkItem]] | None:
        """The first stage with items not yet done, and those items; None when the experiment is finished."""
        for stage in STAGES:
            pending = [item for item in plan_items(self.experiment, stage) if item.key not in self.completed]
            if pending:
                return stage, pending
        return None

    def complete(self, key: str, outputs: dict) -> None:
        self.completed[key] = outputs
        self._save()

    def add_time(self, stage: str, seconds: float) -> None:
        self.timings_s[stage] = self.timings_s.get(stage, 0.0) + float(seconds)
        self._save()

    def outputs(self, item: WorkItem) -> dict:
        if item.key not in self.completed:
            raise KeyError(f"{self.path}: stage item {item.key} has not completed")
        return self.completed[item.key]

    def _save(self) -> None:
        write_json(self.path, {"completed": self.completed, "timings_s": self.timings_s})


@ray.remote(num_cpus=0)
class ExperimentCoordinator:
    """The one owner of an experiment's state: drivers and trials ask it what is next and report what is done."""

    def __init__(self, run_dir: str, experiment: ExperimentConfig):
        self.state = ExperimentState(Path(run_dir), experiment)

    def next_stage(self) -> tuple[str, list[WorkItem]] | None:
        return self.state.next_stage()

    def complete(self, key: str, outputs: dict) -> None:
        self.state.complete(key, outputs)

    def add_time(self, stage: str, seconds: float) -> None:
        self.state.add_time(stage, seconds)

    def outputs(self, item: WorkItem) -> dict:
        return self.state.outputs(item)

    def completed(self) -> dict[str, dict]:
        return dict(self.state.completed)

    def timings_s(self) -> dict[str, float]:
        return dict(self.state.timings_s)
