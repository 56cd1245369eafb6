"""Which qc_train subjects train, calibrate and test the QC classifier; and a cross-validated assessment.

`split_subjects` makes the one split the deployed classifier comes from. Its test part is a
fifth of the subjects, so its sensitivity is known to about ±0.1 (the demo: 24 subjects,
30–50 erroneous cases). `subject_folds` tests every subject once instead: each fold trains,
calibrates and tests a classifier of its own (`assess_fold`), and `pool_folds` counts the
caught and passed cases of all folds together, each at its own fold's threshold.

An assessment (`QCAssessment`) is a value returned and saved beside the model, never state of
the classifier: the estimator holds what it learned, not how it was judged.

Always by subject, not by case: one subject's cases (one per model) stay together, so no
test subject's heart was seen in training or in choosing the threshold.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from ray_semiqc.config import QCConfig
from ray_semiqc.qc.cases import case_source
from ray_semiqc.qc.classifier import QCClassifier
from ray_semiqc.qc.curves_table import row_curves
from ray_semiqc.qc.threshold import (
    OperatingPoint,
    operating_point_at,
    sensitivity_interval,
    specificity_at_sensitivity,
    tally_by_source,
    wilson_interval,
)

ASSESSMENT_FILE = "qc_assessment.json"  # beside a deployed QC model: how it did on its test subjects
_MIN_STRATUM_SUBJECTS = 3  # fewer subjects on one side: stratifying by them is noise


@dataclass(frozen=True)
class QCSplit:
    train: list[str]  # subjects whose cases fit the network
    calibration: list[str]  # ... choose the operating threshold
    test: list[str]  # ... give the reported sensitivity, specificity and AUC


@dataclass(frozen=True)
class QCAssessment:
    """A calibrated classifier judged on test cases neither its fit nor its threshold saw."""

    task: str
    erroneous: np.ndarray  # the reviewer's verdict of each test case
    p_erroneous: np.ndarray  # the classifier's P(erroneous) of each
    sources: tuple[str, ...] | None  # where each case came from (`cases.case_source`), when known
    point: OperatingPoint  # sensitivity, specificity and AUC at the calibrated threshold

    def results_row(self, target_sensitivity: float) -> dict:
        """The `results/qc.csv` row: sensitivity (with its Wilson 95% interval), specificity, AUC and
        threshold at the calibrated point, and the specificity the test ROC allows at
        `target_sensitivity` (read off, not an operating point)."""
        low, high = sensitivity_interval(self.point)
        return {
            "task": self.task,
            "sensitivity": self.point.sensitivity,
            "sensitivity_ci95_low": low,
            "sensitivity_ci95_high": high,
            "specificity": self.point.specificity,
            "auc": self.point.auc,
            "threshold": self.point.threshold,
            "n": self.point.n,
            "n_erroneous": self.point.n_erroneous,
            "target_sensitivity": target_sensitivity,
            "specificity_at_target": specificity_at_sensitivity(self.erroneous, self.p_erroneous, target_sensitivity),
        }

    def results_by_source(self) -> list[dict]:
        """Per source of test case: erroneous cases caught and good cases passed at the threshold
        (which failures QC sees, and which it misses); empty when the sources are not known."""
        if self.sources is None:
            return []
        called = self.p_erroneous >= self.point.threshold
        return [{"task": self.task, **row} for row in tally_by_source(self.erroneous, called, list(self.sources))]

    def as_dict(self) -> dict:
        return {
            "task": self.task,
            "erroneous": self.erroneous.tolist(),
            "p_erroneous": self.p_erroneous.tolist(),
            "sources": None if self.sources is None else list(self.sources),
            "point": self.point.as_dict(),
        }

    @classmethod
    def from_dict(cls, saved: dict) -> QCAssessment:
        return cls(
            task=saved["task"],
            erroneous=np.asarray(saved["erroneous"], dtype=bool),
            p_erroneous=np.asarray(saved["p_erroneous"], dtype=np.float64),
            sources=None if saved["sources"] is None else tuple(saved["sources"]),
            point=OperatingPoint(**saved["point"]),
        )


def read_assessment(path: Path) -> QCAssessment:
    """The assessment saved beside a deployed QC model (`distributed.qc.train_qc_on_ray`)."""
    return QCAssessment.from_dict(json.loads(Path(path).read_text())["assessment"])


def assess(classifier: QCClassifier, curves, erroneous, sources: Sequence[str] | None = None) -> QCAssessment:
    """The calibrated classifier's sensitivity, specificity and AUC on test cases."""
    if classifier.operating_point_ is None:
        raise ValueError("QC classifier has no operating threshold; call calibrate() on calibration cases first")
    erroneous = np.asarray(erroneous, dtype=bool)
    if sources is not None and len(sources) != len(erroneous):
        raise ValueError(f"{len(erroneous)} test cases but {len(sources)} sources")
    p_erroneous = classifier.predict_proba(curves)[:, 1]
    calibrated = classifier.operating_point_
    return QCAssessment(
        task=classifier.task,
        erroneous=erroneous,
        p_erroneous=p_erroneous,
        sources=None if sources is None else tuple(sources),
        point=operating_point_at(erroneous, p_erroneous, calibrated.threshold, calibrated.sensitivity_weight),
    )


def split_subjects(cases: list[dict], calibration_fraction: float, test_fraction: float, seed: int) -> QCSplit:
    """Subjects into training, calibration and test; each part must hold good and erroneous cases.

    Stratified by whether most of a subject's cases are erroneous, when both sides have at least
    3 subjects (a rough model can make nearly every subject mostly erroneous; the split is then
    unstratified).
    """
    verdicts = _verdicts(cases)
    subjects = sorted(verdicts)
    strata = _strata(verdicts)
    rest, test = train_test_split(subjects, test_size=test_fraction, stratify=strata(subjects), random_state=seed)
    return _with_calibration(rest, test, calibration_fraction / (1 - test_fraction), verdicts, strata, seed, len(cases))


def subject_folds(cases: list[dict], folds: int, calibration_fraction: float, seed: int) -> list[QCSplit]:
    """`folds` splits whose test subjects partition the set, each subject tested exactly once; the
    rest of each split is divided into training and calibration as `split_subjects` does."""
    verdicts = _verdicts(cases)
    subjects = np.array(sorted(verdicts))
    if not 2 <= folds <= len(subjects):
        raise ValueError(f"cross-validation needs 2 to {len(subjects)} folds (one per subject at most), got {folds}")
    labels = [2 * sum(verdicts[s]) >= len(verdicts[s]) for s in subjects]
    stratified = min(sum(labels), len(labels) - sum(labels)) >= max(folds, _MIN_STRATUM_SUBJECTS)
    splitter = (
        StratifiedKFold(folds, shuffle=True, random_state=seed)
        if stratified
        else KFold(folds, shuffle=True, random_state=seed)
    )
    strata = _strata(verdicts)
    return [
        _with_calibration(
            list(subjects[rest]),
            list(subjects[test]),
            calibration_fraction * folds / (folds - 1),
            verdicts,
            strata,
            seed,
            len(cases),
        )
        for rest, test in splitter.split(subjects, labels)
    ]


def assess_fold(task: str, qc: QCConfig, cases: list[dict], split: QCSplit, seed: int) -> QCAssessment:
    """Fit on the split's training subjects, choose the threshold on its calibration subjects, score its test subjects."""
    train = _cases_of(cases, split.train)
    classifier = QCClassifier.from_config(task, qc, seed=seed).fit(
        [row_curves(c) for c in train], [c["erroneous"] for c in train]
    )
    return calibrate_and_assess(classifier, cases, split, qc)


def calibrate_and_assess(classifier: QCClassifier, cases: list[dict], split: QCSplit, qc: QCConfig) -> QCAssessment:
    """A fitted classifier's threshold chosen on the split's calibration subjects (the classifier
    keeps it), then judged on its test subjects (each test case labelled with its source)."""
    calibration, test = _cases_of(cases, split.calibration), _cases_of(cases, split.test)
    classifier.calibrate(
        [row_curves(c) for c in calibration], [c["erroneous"] for c in calibration], qc.youden_sensitivity_weight
    )
    return assess(
        classifier, [row_curves(c) for c in test], [c["erroneous"] for c in test], [case_source(c) for c in test]
    )


def pool_folds(task: str, folds: Sequence[QCAssessment], target_sensitivity: float) -> dict:
    """Every fold's test cases counted together, each case called at its own fold's threshold.

    AUC and the specificity at `target_sensitivity` are per fold (the folds' scores come from
    different classifiers, so one ROC over all of them would mix scales): mean and range.
    """
    erroneous = np.concatenate([f.erroneous for f in folds])
    called = np.concatenate([f.p_erroneous >= f.point.threshold for f in folds])
    caught, n_erroneous = int((called & erroneous).sum()), int(erroneous.sum())
    low, high = wilson_interval(caught, n_erroneous)
    aucs = [f.point.auc for f in folds]
    specificities_at_target = [
        specificity_at_sensitivity(f.erroneous, f.p_erroneous, target_sensitivity) for f in folds
    ]
    return {
        "task": task,
        "folds": len(folds),
        "n": len(erroneous),
        "n_erroneous": n_erroneous,
        "sensitivity": caught / n_erroneous,
        "sensitivity_ci95_low": low,
        "sensitivity_ci95_high": high,
        "specificity": float((~called[~erroneous]).mean()),
        "auc_mean": float(np.mean(aucs)),
        "auc_per_fold": aucs,
        "target_sensitivity": target_sensitivity,
        "specificity_at_target_mean": float(np.mean(specificities_at_target)),
        "specificity_at_target_per_fold": specificities_at_target,
        "thresholds": [f.point.threshold for f in folds],
        "by_source": [
            {"task": task, **row}
            for row in tally_by_source(erroneous, called, [source for f in folds for source in f.sources])
        ],
    }


def _cases_of(cases: list[dict], subjects: list[str]) -> list[dict]:
    chosen = set(subjects)
    return [c for c in cases if c["subject_id"] in chosen]


def _verdicts(cases: list[dict]) -> dict[str, list[bool]]:
    verdicts: dict[str, list[bool]] = {}
    for case in cases:
        verdicts.setdefault(case["subject_id"], []).append(bool(case["erroneous"]))
    return verdicts


def _strata(verdicts: dict[str, list[bool]]):
    """Subjects → whether most of their cases are erroneous, or None where a side is too small to stratify."""

    def strata(chosen: list[str]) -> list[bool] | None:
        labels = [2 * sum(verdicts[s]) >= len(verdicts[s]) for s in chosen]
        return labels if min(sum(labels), len(labels) - sum(labels)) >= _MIN_STRATUM_SUBJECTS else None

    return strata


def _with_calibration(rest, test, calibration_share: float, verdicts, strata, seed: int, n_cases: int) -> QCSplit:
    train, calibration = train_test_split(rest, test_size=calibration_share, stratify=strata(rest), random_state=seed)
    split = QCSplit(train=sorted(train), calibration=sorted(calibration), test=sorted(test))
    for name, part in (("training", split.train), ("calibration", split.calibration), ("test", split.test)):
        found = {verdict for subject in part for verdict in verdicts[subject]}
        if found != {True, False}:
            kind = "erroneous" if True in found else "good"
            raise ValueError(
                f"the QC set's {name} subjects ({len(part)} of {len(verdicts)}) have only {kind} cases; "
                f"the set has {sum(map(sum, verdicts.values()))} erroneous cases of {n_cases}: review more subjects "
                "or use a spread of models whose outputs are both good and erroneous"
            )
    return split
