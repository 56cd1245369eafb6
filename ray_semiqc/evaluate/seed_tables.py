"""The seed paper's published results (Ruijsink, Puyol-Antón et al.), the reference our tables sit beside.

Numbers are transcribed from the paper's Tables 1–3; `*` marks p < .001 vs semiQCSeg (paired t-test).
"""

from __future__ import annotations

import pandas as pd

SEED_TABLE1 = pd.DataFrame(
    [
        ("aorta", "full", 138, 414),
        ("aorta", "half", 69, 207),
        ("aorta", "ssl_noqc", 99, 2160),
        ("aorta", "ssl_crf", 99, 2160),
        ("aorta", "semiqcseg", 99, 2160),
        ("sax", "full", 500, 1000),
        ("sax", "half", 250, 500),
        ("sax", "ssl_noqc", 280, 2000),
        ("sax", "ssl_crf", 280, 2000),
        ("sax", "semiqcseg", 280, 2000),
    ],
    columns=["task", "scenario", "subjects", "images"],
)

SEED_TABLE2 = pd.DataFrame(
    [
        ("aorta", "full", 95.45, 1.45, ""),
        ("aorta", "half", 93.71, 1.51, "*"),
        ("aorta", "ssl_noqc", 92.86, 2.95, "*"),
        ("aorta", "ssl_crf", 94.89, 1.71, "*"),
        ("aorta", "semiqcseg", 95.56, 1.53, ""),
        ("sax", "full", 88.17, 4.35, "*"),
        ("sax", "half", 82.57, 10.79, "*"),
        ("sax", "ssl_noqc", 85.30, 6.97, "*"),
        ("sax", "ssl_crf", 85.97, 6.00, "*"),
        ("sax", "semiqcseg", 89.44, 4.01, ""),
    ],
    columns=["task", "scenario", "dice_mean", "dice_sd", "mark"],
)

SEED_TABLE3 = pd.DataFrame(
    [
        ("full", 151, 36, 56, 8, 163, 42, 52, 6),
        ("half", 153, 38, 54, 6, 171, 46, 47, 8),
        ("ssl_noqc", 152, 39, 55, 6, 165, 44, 47, 8),
        ("ssl_crf", 151, 38, 56, 6, 164, 42, 48, 7),
        ("semiqcseg", 150, 36, 57, 6, 160, 43, 54, 6),
        ("manual", 147, 36, 58, 5, 156, 42, 55, 6),
    ],
    columns=[
        "scenario",
        "lvedv_mean",
        "lvedv_sd",
        "lvef_mean",
        "lvef_sd",
        "rvedv_mean",
        "rvedv_sd",
        "rvef_mean",
        "rvef_sd",
    ],
)

SCENARIO_TITLES = {
    "full": "(a) Full dataset",
    "half": "(b) Half dataset",
    "ssl_noqc": "(c) Semi-supervised no QC",
    "ssl_crf": "(d) Semi-supervised no QC + CRF",
    "semiqcseg": "(e) SemiQCSeg",
    "manual": "(f) Manual segmentation",
}
