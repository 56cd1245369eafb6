"""`semiqc validate`: read every subject the way the pipeline will, and name what is wrong.

A bad subject is a `CohortError` (subject, file, problem) in the report and its id in
`unusable_subjects`; checking goes on with the next one, so one report lists them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ray_semiqc.cohort.errors import CohortError
from ray_semiqc.cohort.manifest import MANIFEST_FILE, SubjectRecord, read_manifest
from ray_semiqc.cohort.subject import load_subject
from ray_semiqc.tasks import TASKS


@dataclass(frozen=True)
class ValidationReport:
    checked: int  # subjects (distinct manifest ids) looked at
    problems: list[CohortError]
    unusable_subjects: list[str]  # sorted ids with at least one problem


def validate_cohort(root: Path) -> ValidationReport:
    manifest = read_manifest(Path(root))
    problems = list(manifest.problems)
    for record in manifest.records:
        problems.extend(check_subject(manifest.root, record))
    checked = len(manifest.records) + len(manifest.problems)
    return ValidationReport(
        checked=checked,
        problems=problems,
        unusable_subjects=sorted({p.subject_id for p in problems}),
    )


def check_subject(root: Path, record: SubjectRecord) -> list[CohortError]:
    """Every problem of one subject, one per task at most (the first that stops its loading)."""
    problems = []
    tasks = [task for task in TASKS.values() if record.image_path(task)]
    if not tasks:
        problems.append(CohortError(record.subject_id, MANIFEST_FILE, "manifest gives no image path for any task"))
    for task in tasks:
        try:
            subject = load_subject(root, record, task, with_label=True)
        except CohortError as err:
            problems.append(err)
            continue
        if record.split == "test" and subject.label is not None and len(subject.annotated_frames) != subject.n_frames:
            problems.append(
                CohortError(
                    record.subject_id,
                    record.label_path(task),
                    f"test subjects need full-cycle labels; {len(subject.annotated_frames)} of {subject.n_frames} frames annotated",
                )
            )
    if record.split == "labelled" and not any(record.label_path(task) for task in tasks):
        problems.append(CohortError(record.subject_id, MANIFEST_FILE, "labelled subject has no label file"))
    return problems
