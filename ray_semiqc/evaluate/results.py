"""From evaluated models to the run's results: tables (CSV/Parquet), figures (PNG) and report.html.

OUT/results/table1.csv table2.csv table3.csv qc.csv qc_by_source.csv per_case.parquet selection.parquet
            [qc_cross_validation.csv qc_cross_validation_by_source.csv: where the run cross-validated its QC]
OUT/figures/*.png  OUT/report.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ray_semiqc.config import Config
from ray_semiqc.evaluate.cases import SubjectFigureData
from ray_semiqc.evaluate.figures import cycle_curves_figure, dice_change_figure, segmentation_panel_figure
from ray_semiqc.evaluate.report import ReportContent, write_report
from ray_semiqc.evaluate.selection import SELECTION_COLUMNS, selection_quality
from ray_semiqc.evaluate.tables import (
    dice_by_cohort_group,
    qc_cross_validation_table,
    qc_source_table,
    qc_table,
    selection_by_cohort_group,
    table1,
    table2,
    table3,
)
from ray_semiqc.files import atomic_write, write_json, write_png, write_text
from ray_semiqc.qc.assessment import QCAssessment, read_assessment
from ray_semiqc.qc.figures import qc_roc_figure
from ray_semiqc.run_layout import RunLayout, seed_name
from ray_semiqc.tasks import get_task

CASES_FILE = "cases.parquet"
MODEL_FILE = "evaluated_model.json"
FIGURE_DATA_FILE = "figure_data.npz"
_SLICE_FIELDS = ("image", "truth", "predicted")
TRAINING_SET_COLUMNS = ("task", "scenario", "seed", "subjects", "images")
CSV_TABLES = (
    "table1",
    "table2",
    "table3",
    "qc",
    "qc_by_source",
    "qc_cross_validation",
    "qc_cross_validation_by_source",
    "selection_quality",
)


@dataclass
class EvaluatedModel:
    """One model's per-case rows on an evaluation split, its subjects' figure data, and the size of
    the training set it was fitted on (Table 1, as its checkpoint records it)."""

    task: str
    scenario: str
    seed: int
    rows: list[dict]
    figures: dict[str, SubjectFigureData] = field(default_factory=dict)
    training_set: dict = field(default_factory=dict)  # n_subjects, n_images, n_slices

    def save(self, folder: Path) -> Path:
        folder = Path(folder)
        identity = {"task": self.task, "scenario": self.scenario, "seed": self.seed, "training_set": self.training_set}
        with atomic_write(folder / CASES_FILE) as partial:
            pd.DataFrame(self.rows).to_parquet(partial, index=False)
        arrays = {}
        for subject_id, data in self.figures.items():
            for name in _SLICE_FIELDS:
                arrays[f"{subject_id}/{name}"] = getattr(data, name)
            for kind in ("truth_curves", "predicted_curves"):
                for curve, values in getattr(data, kind).items():
                    arrays[f"{subject_id}/{kind}/{curve}"] = values
        with atomic_write(folder / FIGURE_DATA_FILE) as partial, open(partial, "wb") as stream:
            np.savez_compressed(stream, **arrays)
        write_json(folder / MODEL_FILE, identity)  # last: a folder with it is complete
        return folder

    @classmethod
    def load(cls, folder: Path) -> EvaluatedModel:
        folder = Path(folder)
        identity = json.loads((folder / MODEL_FILE).read_text())
        rows = pd.read_parquet(folder / CASES_FILE).to_dict("records")
        figures: dict[str, SubjectFigureData] = {}
        with np.load(folder / FIGURE_DATA_FILE) as arrays:
            for key in arrays.files:
                subject_id, name, *curve = key.split("/")
                data = figures.setdefault(subject_id, SubjectFigureData(None, None, None))
                if curve:
                    getattr(data, name)[curve[0]] = arrays[key]
                else:
                    setattr(data, name, arrays[key])
        return cls(identity["task"], identity["scenario"], identity["seed"], rows, figures, identity["training_set"])

    def per_case(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows).assign(task=self.task, scenario=self.scenario, seed=self.seed)

    def training_set_row(self) -> dict:
        sizes = self.training_set
        return {
            "task": self.task,
            "scenario": self.scenario,
            "seed": self.seed,
            "subjects": sizes["n_subjects"],
            "images": sizes["n_images"],
        }


@dataclass(frozen=True)
class QCArtefacts:
    """What a run's qc stage made for one task and seed."""

    task: str
    seed: int
    assessment: Path  # qc_assessment.json of the deployed classifier
    cross_validation: Path | None = None  # qc_cross_validation.json, where the run cross-validated


@dataclass(frozen=True)
class RunArtefacts:
    """What a run made besides its models, as its state records them, in task/seed order."""

    qc: list[QCArtefacts] = field(default_factory=list)
    selections: list[Path] = field(default_factory=list)  # selection/<task>/seed<k>.parquet


def panel_subject(per_case: pd.DataFrame, task: str, seed: int) -> str | None:
    """The test subject whose Dice differs most between scenarios: the most telling Fig 3 example."""
    cases = per_case[(per_case["task"] == task) & (per_case["seed"] == seed) & (per_case["status"] == "ok")]
    by_subject = cases.pivot_table(index="subject_id", columns="scenario", values="dice_pct").dropna()
    if by_subject.empty:
        return None
    spread = by_subject.max(axis=1) - by_subject.min(axis=1)
    return str(spread.sort_values(ascending=False, kind="stable").index[0])


def _figures(
    out_dir: Path,
    per_case: pd.DataFrame,
    evaluated: list[EvaluatedModel],
    config: Config,
    qc_assessments: list[tuple[QCArtefacts, QCAssessment]],
) -> list[tuple[Path, str]]:
    figures_dir = RunLayout(out_dir).figures_dir
    figures = []
    scenarios = tuple(config.experiment.scenarios)
    for task_name in dict.fromkeys(m.task for m in evaluated):
        task = get_task(task_name)
        if {"half", "semiqcseg"} <= set(per_case.loc[per_case["task"] == task_name, "scenario"]):
            path = write_png(figures_dir / f"fig2_dice_change_{task_name}.png", dice_change_figure(per_case, task_name))
            figures.append((path, f"Fig 2 ({task_name}): per-case Dice change of semiQCSeg vs half-data training."))
        seed = min(m.seed for m in evaluated if m.task == task_name)
        subject_id = panel_subject(per_case, task_name, seed)
        if subject_id is None:
            continue
        models = sorted(
            (m for m in evaluated if m.task == task_name and m.seed == seed),
            key=lambda m: scenarios.index(m.scenario) if m.scenario in scenarios else len(scenarios),
        )
        data = {m.scenario: m.figures[subject_id] for m in models if subject_id in m.figures}
        first = next(iter(data.values()))
        panel = segmentation_panel_figure(
            first.image, first.truth, {s: d.predicted for s, d in data.items()}, task, subject_id
        )
        path = write_png(figures_dir / f"fig3_panel_{task_name}.png", panel)
        figures.append(
            (path, f"Fig 3 ({task_name}): subject {subject_id} (largest Dice spread between scenarios), seed {seed}.")
        )
        curves = cycle_curves_figure(
            first.truth_curves, {s: d.predicted_curves for s, d in data.items()}, task, subject_id
        )
        path = write_png(figures_dir / f"curves_{task_name}.png", curves)
        figures.append((path, f"Cycle curves ({task_name}) of subject {subject_id} per scenario vs manual."))
    for made, assessment in qc_assessments:
        seed = seed_name(made.seed)
        path = write_png(figures_dir / f"qc_roc_{made.task}_{seed}.png", qc_roc_figure(assessment))
        caption = (
            f"QC ROC ({made.task}, {seed}) on test qc_train subjects, at the threshold chosen on calibration subjects."
        )
        figures.append((path, caption))
    return figures


def write_results(
    out_dir: Path,
    config: Config,
    evaluated: list[EvaluatedModel],
    artefacts: RunArtefacts,
    *,
    timings_s: dict[str, float],
    notes: list[str],
    pool_dice: dict[tuple[str, int], dict[str, float]] | None = None,
) -> Path:
    """Write every table, figure and the report into OUT (the run itself, or an evaluation folder).

    `pool_dice` (`selection.pool_true_dice` per task and seed) exists only where the run's own pool
    has hidden truth; with it, `selection_quality` tells how good each scenario's pseudo-labels were.
    An evaluation on another cohort has none."""
    layout = RunLayout(out_dir)
    scenarios = tuple(config.experiment.scenarios)
    per_case = pd.concat([m.per_case() for m in evaluated], ignore_index=True)
    leading = ["task", "seed", "scenario", "subject_id", "group", "status", "error"]
    per_case = per_case.loc[:, leading + [c for c in per_case.columns if c not in leading]]
    selection = (
        pd.concat([pd.read_parquet(p) for p in artefacts.selections], ignore_index=True)
        if artefacts.selections
        else pd.DataFrame(columns=list(SELECTION_COLUMNS))
    )
    for name, frame in (("per_case", per_case), ("selection", selection)):
        with atomic_write(layout.results_dir / f"{name}.parquet") as partial:
            frame.to_parquet(partial, index=False)
    qc_assessments = [(made, read_assessment(made.assessment)) for made in artefacts.qc]
    target = config.qc.target_sensitivity
    tables = {
        "table1": table1(pd.DataFrame([m.training_set_row() for m in evaluated], columns=list(TRAINING_SET_COLUMNS))),
        "table2": table2(per_case, scenarios),
        "table3": table3(per_case, scenarios),
        "qc": qc_table([assessment.results_row(target) for _, assessment in qc_assessments]),
        "qc_by_source": qc_source_table([row for _, a in qc_assessments for row in a.results_by_source()]),
        "dice_by_group": dice_by_cohort_group(per_case, scenarios),
        "selection_by_group": selection_by_cohort_group(selection),
    }
    cross_validations = [
        json.loads(made.cross_validation.read_text()) for made in artefacts.qc if made.cross_validation
    ]
    if cross_validations:
        tables["qc_cross_validation"] = qc_cross_validation_table(cross_validations)
        tables["qc_cross_validation_by_source"] = qc_source_table(
            [row for cv in cross_validations for row in cv["by_source"]]
        )
    if pool_dice is not None:
        tables["selection_quality"] = selection_quality(selection, pool_dice)
    for name in CSV_TABLES:
        if name in tables:
            write_text(layout.results_dir / f"{name}.csv", tables[name].to_csv(index=False))
    content = ReportContent(
        preset=config.preset,
        tables=tables,
        figures=_figures(out_dir, per_case, evaluated, config, qc_assessments),
        significance_levels=tuple(config.experiment.significance_levels),
        timings_s=timings_s,
        notes=notes,
    )
    return write_report(layout.report, content)
