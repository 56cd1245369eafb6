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
from ray_semiqc.evaluate.figures import plot_cycle_curves, plot_dice_change, plot_segmentation_panel
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
from ray_semiqc.models.checkpoint import load_checkpoint
from ray_semiqc.qc.classifier import QCClassifier
from ray_semiqc.qc.figures import plot_qc_roc
from ray_semiqc.tasks import get_task

CASES_FILE = "cases.parquet"
FIGURE_DATA_FILE = "figure_data.npz"
_SLICE_FIELDS = ("image", "truth", "predicted")


@dataclass
class EvaluatedModel:
    """One model's per-case rows on an evaluation split and its subjects' figure data."""

    task: str
    scenario: str
    seed: int
    rows: list[dict]
    figures: dict[str, SubjectFigureData] = field(default_factory=dict)
    folder: Path | None = None

    def save(self, base: Path) -> Path:
        self.folder = Path(base) / self.task / self.scenario / f"seed{self.seed}"
        self.folder.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(self.rows).to_parquet(self.folder / CASES_FILE, index=False)
        arrays = {}
        for subject_id, data in self.figures.items():
            for name in _SLICE_FIELDS:
                arrays[f"{subject_id}/{name}"] = getattr(data, name)
            for kind in ("truth_curves", "predicted_curves"):
                for curve, values in getattr(data, kind).items():
                    arrays[f"{subject_id}/{kind}/{curve}"] = values
        np.savez_compressed(self.folder / FIGURE_DATA_FILE, **arrays)
        return self.folder

    @classmethod
    def load(cls, folder: Path) -> EvaluatedModel:
        folder = Path(folder)
        seed = int(folder.name.removeprefix("seed"))
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
        return cls(folder.parents[1].name, folder.parent.name, seed, rows, figures, folder)

    def per_case(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows).assign(task=self.task, scenario=self.scenario, seed=self.seed)


def training_set_sizes(run_dir: Path, evaluated: list[EvaluatedModel]) -> pd.DataFrame:
    """Table 1's counts, read from each model's checkpoint: the training set it was actually fitted on."""
    rows = []
    for model in evaluated:
        _, meta = load_checkpoint(
            Path(run_dir) / "models" / model.task / model.scenario / f"seed{model.seed}" / "model.pt"
        )
        rows.append(
            {
                "task": model.task,
                "scenario": model.scenario,
                "seed": model.seed,
                "subjects": meta.training_set["n_subjects"],
                "images": meta.training_set["n_images"],
            }
        )
    return pd.DataFrame(rows, columns=["task", "scenario", "seed", "subjects", "images"])


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
    qc_models: list[tuple[Path, QCClassifier]],
) -> list[tuple[Path, str]]:
    figures_dir = Path(out_dir) / "figures"
    figures = []
    scenarios = tuple(config.experiment.scenarios)
    for task_name in dict.fromkeys(m.task for m in evaluated):
        task = get_task(task_name)
        if {"half", "semiqcseg"} <= set(per_case.loc[per_case["task"] == task_name, "scenario"]):
            path = plot_dice_change(per_case, task_name, figures_dir / f"fig2_dice_change_{task_name}.png")
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
        path = plot_segmentation_panel(
            first.image,
            first.truth,
            {s: d.predicted for s, d in data.items()},
            task,
            subject_id,
            figures_dir / f"fig3_panel_{task_name}.png",
        )
        figures.append(
            (path, f"Fig 3 ({task_name}): subject {subject_id} (largest Dice spread between scenarios), seed {seed}.")
        )
        path = plot_cycle_curves(
            first.truth_curves,
            {s: d.predicted_curves for s, d in data.items()},
            task,
            subject_id,
            figures_dir / f"curves_{task_name}.png",
        )
        figures.append((path, f"Cycle curves ({task_name}) of subject {subject_id} per scenario vs manual."))
    for qc_model, classifier in qc_models:
        seed_name = Path(qc_model).parent.name
        path = plot_qc_roc(classifier, figures_dir / f"qc_roc_{classifier.task}_{seed_name}.png")
        figures.append(
            (
                path,
                f"QC ROC ({classifier.task}, {seed_name}) on test qc_train subjects, at the threshold chosen on calibration subjects.",
            )
        )
    return figures


def write_results(
    run_dir: Path,
    out_dir: Path,
    config: Config,
    evaluated: list[EvaluatedModel],
    qc_models: list[Path],
    qc_cross_validations: list[Path],
    selection_files: list[Path],
    timings_s: dict[str, float],
    notes: list[str],
    pool_dice: dict[tuple[str, int], dict[str, float]] | None = None,
) -> Path:
    """Write every table, figure and the report into OUT (the run itself, or an evaluation folder).

    `qc_cross_validations` are the run's `qc_cross_validation.json` files (none where it made none).
    `pool_dice` (`selection.pool_true_dice` per task and seed) exists only where the run's own pool
    has hidden truth; with it, `selection_quality` tells how good each scenario's pseudo-labels were.
    An evaluation on another cohort has none."""
    results_dir = Path(out_dir) / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    scenarios = tuple(config.experiment.scenarios)
    per_case = pd.concat([m.per_case() for m in evaluated], ignore_index=True)
    leading = ["task", "seed", "scenario", "subject_id", "group", "status", "error"]
    per_case = per_case.loc[:, leading + [c for c in per_case.columns if c not in leading]]
    per_case.to_parquet(results_dir / "per_case.parquet", index=False)
    selection = (
        pd.concat([pd.read_parquet(p) for p in selection_files], ignore_index=True)
        if selection_files
        else pd.DataFrame(columns=list(SELECTION_COLUMNS))
    )
    selection.to_parquet(results_dir / "selection.parquet", index=False)
    qc_classifiers = [QCClassifier.load(p) for p in qc_models]
    tables = {
        "table1": table1(training_set_sizes(run_dir, evaluated)),
        "table2": table2(per_case, scenarios),
        "table3": table3(per_case, scenarios),
        "qc": qc_table([c.results_row(config.qc.target_sensitivity) for c in qc_classifiers]),
        "qc_by_source": qc_source_table([row for c in qc_classifiers for row in c.results_by_source()]),
        "dice_by_group": dice_by_cohort_group(per_case, scenarios),
        "selection_by_group": selection_by_cohort_group(selection),
    }
    if qc_cross_validations:
        assessments = [json.loads(Path(p).read_text()) for p in qc_cross_validations]
        tables["qc_cross_validation"] = qc_cross_validation_table(assessments)
        tables["qc_cross_validation_by_source"] = qc_source_table([row for a in assessments for row in a["by_source"]])
    if pool_dice is not None:
        tables["selection_quality"] = selection_quality(selection, pool_dice)
    written = (
        "table1",
        "table2",
        "table3",
        "qc",
        "qc_by_source",
        "qc_cross_validation",
        "qc_cross_validation_by_source",
        "selection_quality",
    )
    for name in written:
        if name in tables:
            tables[name].to_csv(results_dir / f"{name}.csv", index=False)
    content = ReportContent(
        preset=config.preset,
        tables=tables,
        figures=_figures(out_dir, per_case, evaluated, config, list(zip(qc_models, qc_classifiers))),
        significance_levels=tuple(config.experiment.significance_levels),
        timings_s=timings_s,
        notes=notes,
    )
    return write_report(Path(out_dir) / "report.html", content)
