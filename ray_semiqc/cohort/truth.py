"""Full-cycle ground truth of subjects whose labels the pipeline must not see.

`truth/<subject_id>/label_{sa,ao}.nii.gz` under the cohort root. Only evaluation, the
simulated reviewer (qc/reviewer.py) and analysis may call this; training set building,
inference and ranking never do (tests/cohort/test_truth_isolation.py proves it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ray_semiqc.cohort.manifest import SubjectRecord
from ray_semiqc.cohort.nifti import read_label
from ray_semiqc.tasks import Task

TRUTH_DIR = "truth"


def truth_relative_path(subject_id: str, task: Task) -> str:
    return f"{TRUTH_DIR}/{subject_id}/{task.label_file}"


def load_truth(root: Path, record: SubjectRecord, task: Task, image_shape: tuple[int, ...]) -> np.ndarray:
    """Full-cycle labels: `truth/` for hidden splits, the subject's own label for `test`."""
    if record.split == "test":
        relative = record.label_path(task)
    else:
        relative = truth_relative_path(record.subject_id, task)
    return read_label(Path(root) / relative, record.subject_id, task.n_classes, image_shape).data
