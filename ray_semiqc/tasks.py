"""The two segmentation tasks differ only in data, so they share all code and differ here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    name: str
    image_file: str
    label_file: str
    seg_file: str
    class_names: tuple[str, ...]  # index = label value; 0 is background
    normalisation: str  # "percentile" (1st–99th → [0, 1]) or "zscore", as ukbb_cardiac does
    allow_flips: bool  # SAX: no, LV/RV sides must stay meaningful
    curve_names: tuple[str, ...]  # per-frame measures the QC classifier reads
    single_slice: bool  # aorta cine is one slice (X×Y×1×T)
    metric_family: str  # which clinical metrics `measures.task_metrics` reads off the curves
    metric_names: tuple[str, ...]  # those metrics, in table order
    size_metrics: tuple[str, ...]  # volumes / areas, judged by their relative error
    fraction_metrics: tuple[str, ...]  # ejection fractions in %, judged by their error in points
    # manifest columns of this task's image, label and annotated frames
    image_column: str
    label_column: str
    annotated_frames_column: str

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


SAX = Task(
    name="sax",
    image_file="sa.nii.gz",
    label_file="label_sa.nii.gz",
    seg_file="seg_sa.nii.gz",
    class_names=("background", "lv", "myo", "rv"),
    normalisation="percentile",
    allow_flips=False,
    curve_names=("lv_volume_ml", "myo_volume_ml", "rv_volume_ml"),
    single_slice=False,
    metric_family="ventricular",
    metric_names=(
        "lvedv_ml",
        "lvesv_ml",
        "lvsv_ml",
        "lvef_pct",
        "lvm_g",
        "rvedv_ml",
        "rvesv_ml",
        "rvsv_ml",
        "rvef_pct",
    ),
    size_metrics=("lvedv_ml", "lvesv_ml", "rvedv_ml", "rvesv_ml"),
    fraction_metrics=("lvef_pct", "rvef_pct"),
    image_column="sa_path",
    label_column="label_sa_path",
    annotated_frames_column="sax_annotated_frames",
)

AORTA = Task(
    name="aorta",
    image_file="ao.nii.gz",
    label_file="label_ao.nii.gz",
    seg_file="seg_ao.nii.gz",
    class_names=("background", "ascending_aorta"),
    normalisation="zscore",
    allow_flips=True,
    curve_names=("aorta_area_mm2",),
    single_slice=True,
    metric_family="aortic",
    metric_names=("aorta_max_area_mm2", "aorta_min_area_mm2", "aorta_distensibility_1e3_per_mmhg"),
    size_metrics=("aorta_max_area_mm2", "aorta_min_area_mm2"),
    fraction_metrics=(),
    image_column="ao_path",
    label_column="label_ao_path",
    annotated_frames_column="aorta_annotated_frames",
)

TASKS: dict[str, Task] = {"sax": SAX, "aorta": AORTA}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {sorted(TASKS)}")
    return TASKS[name]
