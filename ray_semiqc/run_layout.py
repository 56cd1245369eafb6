"""The experiment's run folder and its work items: every path in it is built here, and read back here.

    RUN/config.json  state.json  report.html  results/  figures/
    RUN/models/<task>/<scenario>/seed<k>/model.pt (+ snapshots/step<n>.pt)
    RUN/qc/<task>/seed<k>/                     QC set, QC model and its assessment
    RUN/inference/<task>/seed<k>/              curves.parquet, masks/
    RUN/selection/<task>/seed<k>.parquet       which pool subjects each SSL scenario took
    RUN/pseudo/<task>/<scenario>/seed<k>/      CRF-refined pseudo-labels
    RUN/evaluation/<task>/<scenario>/seed<k>/  per-case rows and figure data of one model
    RUN/tune/<stage>/                          Ray Tune experiment folders

An evaluation of a run's models on another cohort writes the `evaluation/`, `results/`,
`figures/` and `report.html` part of this layout into its own folder.

A work item (stage × task × scenario × seed) is named by its key, `stage/task/scenario/seed<k>`
with absent parts left out; `WorkItem.from_key` reads a key back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SEED_PREFIX = "seed"


def seed_name(seed: int) -> str:
    """How a seed is written in folder names, run names and keys: `seed3`."""
    return f"{SEED_PREFIX}{int(seed)}"


def parse_seed_name(name: str) -> int:
    if not name.startswith(SEED_PREFIX) or not name[len(SEED_PREFIX) :].isdigit():
        raise ValueError(f"{name!r} is not a seed name like {seed_name(0)!r}")
    return int(name[len(SEED_PREFIX) :])


@dataclass(frozen=True)
class WorkItem:
    """One unit of an experiment stage: a stage alone, or per task (and scenario) and seed."""

    stage: str
    task: str | None = None
    scenario: str | None = None
    seed: int | None = None

    @property
    def key(self) -> str:
        parts = [self.stage, self.task, self.scenario, None if self.seed is None else seed_name(self.seed)]
        return "/".join(part for part in parts if part is not None)

    @classmethod
    def from_key(cls, key: str) -> WorkItem:
        """The item a key names: `stage`, `stage/task/seed<k>` or `stage/task/scenario/seed<k>`."""
        parts = key.split("/")
        if len(parts) == 1:
            return cls(parts[0])
        if len(parts) not in (3, 4):
            raise ValueError(f"{key!r} is not a work-item key (stage[/task[/scenario]/seed<k>])")
        *names, seed = parts
        return cls(names[0], names[1], names[2] if len(names) == 3 else None, parse_seed_name(seed))


class RunLayout:
    """Paths of one run folder (or of an evaluation folder, which holds the results part of it)."""

    CONFIG_FILE = "config.json"
    STATE_FILE = "state.json"
    REPORT_FILE = "report.html"
    MODEL_FILE = "model.pt"

    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def config(self) -> Path:
        return self.root / self.CONFIG_FILE

    @property
    def state(self) -> Path:
        return self.root / self.STATE_FILE

    @property
    def report(self) -> Path:
        return self.root / self.REPORT_FILE

    @property
    def results_dir(self) -> Path:
        return self.root / "results"

    @property
    def figures_dir(self) -> Path:
        return self.root / "figures"

    @property
    def tune_dir(self) -> Path:
        return self.root / "tune"

    def model_dir(self, task: str, scenario: str, seed: int) -> Path:
        return self.root / "models" / task / scenario / seed_name(seed)

    def model_path(self, task: str, scenario: str, seed: int) -> Path:
        return self.model_dir(task, scenario, seed) / self.MODEL_FILE

    def qc_dir(self, task: str, seed: int) -> Path:
        return self.root / "qc" / task / seed_name(seed)

    def inference_dir(self, task: str, seed: int) -> Path:
        return self.root / "inference" / task / seed_name(seed)

    def selection_path(self, task: str, seed: int) -> Path:
        return self.root / "selection" / task / f"{seed_name(seed)}.parquet"

    def pseudo_dir(self, task: str, scenario: str, seed: int) -> Path:
        return self.root / "pseudo" / task / scenario / seed_name(seed)

    def evaluation_dir(self, task: str, scenario: str, seed: int) -> Path:
        return self.root / "evaluation" / task / scenario / seed_name(seed)

    def evaluations_dir(self, cohort_name: str) -> Path:
        """Default folder of an evaluation of this run's models on another cohort."""
        return self.root / "evaluations" / cohort_name
