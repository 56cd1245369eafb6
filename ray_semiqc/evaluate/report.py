"""`report.html`: the experiment's tables and figures in one self-contained, offline file.

Figures are embedded as base64 PNG, so the file can be mailed or opened anywhere. Our Table 2
is shown beside the seed's, with the seed's significance marks (`*`: p < .001 vs semiQCSeg).
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ray_semiqc.evaluate.seed_tables import SCENARIO_TITLES, SEED_TABLE1, SEED_TABLE2, SEED_TABLE3
from ray_semiqc.evaluate.statistics import significance_mark
from ray_semiqc.files import write_text

_STYLE = """
body { font-family: sans-serif; max-width: 70em; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }
th { background: #eee; } td:first-child, td:nth-child(2) { text-align: left; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figcaption { font-size: 0.85em; max-width: 40em; }
.note { color: #555; font-size: 0.9em; }
"""


@dataclass
class ReportContent:
    preset: str
    # table1, table2, table3, qc, qc_by_source, dice_by_group, selection_by_group
    # [, qc_cross_validation, qc_cross_validation_by_source][, selection_quality]
    tables: dict[str, pd.DataFrame]
    figures: list[tuple[Path, str]]  # (PNG path, caption)
    significance_levels: tuple[float, ...]
    timings_s: dict[str, float] = field(default_factory=dict)  # stage → wall seconds
    notes: list[str] = field(default_factory=list)


def mean_sd(mean: float, sd: float, digits: int = 2) -> str:
    return f"{mean:.{digits}f} ({sd:.{digits}f})" if pd.notna(sd) else f"{mean:.{digits}f}"


def table2_beside_seed(table2: pd.DataFrame, significance_levels: tuple[float, ...]) -> pd.DataFrame:
    """Our mean (SD) Dice with marks, n and p, next to the seed's published values."""
    ours = table2.assign(
        ours=[
            mean_sd(row.dice_mean, row.dice_sd) + significance_mark(row.p_value, significance_levels)
            for row in table2.itertuples()
        ],
        p=[f"{p:.2g}" if pd.notna(p) else "" for p in table2["p_value"]],
    )
    seed = SEED_TABLE2.assign(seed=[mean_sd(r.dice_mean, r.dice_sd) + r.mark for r in SEED_TABLE2.itertuples()])
    merged = ours.merge(seed[["task", "scenario", "seed"]], on=["task", "scenario"], how="left")
    merged["scenario"] = merged["scenario"].map(lambda s: SCENARIO_TITLES.get(s, s))
    return merged.loc[:, ["task", "scenario", "ours", "n", "p", "seed"]].rename(
        columns={"ours": "ours: Dice % mean (SD)", "p": "p vs semiQCSeg", "seed": "seed paper: Dice % mean (SD)"}
    )


def _table_html(frame: pd.DataFrame, float_digits: int = 2) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.{float_digits}f}", na_rep="", border=0, escape=True)


def _figure_html(path: Path, caption: str) -> str:
    encoded = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{encoded}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _section(title: str, body: str, note: str = "") -> str:
    note_html = f'<p class="note">{html.escape(note)}</p>' if note else ""
    return f"<h2>{html.escape(title)}</h2>{note_html}{body}"


def _qc_cross_validation_section(tables: dict[str, pd.DataFrame]) -> str:
    title = "QC method, cross-validated by subject (every qc_train subject tested once)"
    if "qc_cross_validation" not in tables:
        missing = "Not made by this run (experiment.cross_validate_qc is off): "
        return _section(title, "", missing + "`semiqc qc assess` makes it from the run's QC set.")
    return _section(
        title,
        _table_html(tables["qc_cross_validation"], 3) + _table_html(tables["qc_cross_validation_by_source"]),
        "Each fold trains, calibrates (weighted-Youden threshold) and tests a classifier of its own; the test cases of "
        "all folds are counted together, each at its own fold's threshold. These are the figures to quote: one split's "
        "test fifth knows the sensitivity only to about ±0.1. AUC and specificity_at_target: over the folds.",
    )


def write_report(path: Path, content: ReportContent) -> Path:
    """Write the report atomically and return its path."""
    tables = content.tables
    marks = ", ".join(f"{'*' * (i + 1)} p < {level:g}" for i, level in enumerate(content.significance_levels))
    sections = [
        _section(
            "Table 2 — Dice of each training scenario, ours beside the seed paper",
            _table_html(table2_beside_seed(tables["table2"], content.significance_levels)),
            f"Dice over all frames and slices of each test subject (SAX: pooled mean of LV, Myo, RV); "
            f"paired t-test vs semiQCSeg ({marks}); n = test cases × seeds.",
        ),
        _section("Table 2 (raw)", _table_html(tables["table2"], 4)),
        _section(
            "Table 1 — training data per scenario (ours, then the seed's)",
            _table_html(tables["table1"]) + _table_html(SEED_TABLE1),
            "Images = labelled cine frames (all slices of a frame); the segmenter's validation subjects are not counted.",
        ),
        _section(
            "Table 3 — clinical metrics vs manual segmentation (SAX)",
            _table_html(tables["table3"]) + "<p class='note'>Seed paper (mean (SD)):</p>" + _table_html(SEED_TABLE3, 0),
            "mean, SD of the automated metric; MAE = mean |automated − manual|; bias = Bland–Altman mean difference.",
        ),
        _section(
            "Dice by group — does a scenario help only the easy (healthy) cases?",
            _table_html(tables["dice_by_group"]),
        ),
        _section(
            "Subjects each augmented set took from the unlabelled pool, healthy vs disease",
            _table_html(tables["selection_by_group"]),
            "semiqcseg: the K best-in-class by QC probability; ssl_noqc and ssl_crf: the same K random subjects.",
        ),
        _qc_cross_validation_section(tables),
        _section(
            "QC classifier (test qc_train subjects, at the weighted-Youden threshold chosen on calibration subjects)",
            _table_html(tables["qc"], 3) + _table_html(tables["qc_by_source"]),
            "sensitivity_ci95: Wilson 95% interval. specificity_at_target: the best specificity the test ROC allows "
            "while catching target_sensitivity of the erroneous cases (read off, not chosen). By source: erroneous "
            "test cases caught and good ones passed, per segmentation model or injected failure.",
        ),
        *(
            [
                _section(
                    "Does the QC ranking pick truly good segmentations? (true Dice % of the pool's pseudo-labels)",
                    _table_html(tables["selection_quality"]),
                    "Against the phantom's hidden full-cycle truth, read only here, after selection and training. "
                    "healthy: how many of the chosen subjects are healthy.",
                )
            ]
            if "selection_quality" in tables
            else []
        ),
        _section("Figures", "".join(_figure_html(p, c) for p, c in content.figures)),
    ]
    if content.timings_s:
        timing = pd.DataFrame({"stage": list(content.timings_s), "wall_s": list(content.timings_s.values())})
        sections.append(_section("Stage timings (this machine)", _table_html(timing, 1)))
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in content.notes)
    document = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>semiQCSeg experiment ({html.escape(content.preset)})</title>"
        f"<style>{_STYLE}</style></head><body><h1>semiQCSeg experiment — preset {html.escape(content.preset)}</h1>"
        f"<ul>{notes}</ul>{''.join(sections)}</body></html>"
    )
    return write_text(path, document)
