"""Every number the pipeline uses, as three presets: `smoke` (tests), `demo` (a 2-core
laptop in under 20 minutes), `paper` (the seed's sizes).

One `Config` per run, built with `load_preset(name, **section_overrides)` and saved as
`config.json` in the run folder. Sections are frozen dataclasses, one per stage.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from ray_semiqc.files import write_text


@dataclass(frozen=True)
class PhantomConfig:
    """Sizes and physics of the synthetic UK Biobank-like cohort."""

    labelled_subjects: int  # SAX-annotated (ED + ES) training subjects
    labelled_aorta_subjects: int  # of those, how many also have 3 annotated aortic frames
    test_subjects: int  # full-cycle truth, 50% healthy / 50% cardiomyopathy
    qc_train_subjects: int  # reviewed by the simulated clinician; never train/test the segmenter
    unlabelled_subjects: int  # the pool that SSL draws from
    sax_frames: int
    aorta_frames: int
    sax_matrix: tuple[int, int]  # in-plane (X, Y) voxels
    aorta_matrix: tuple[int, int]
    sax_slices: int
    pixel_mm: float
    slice_spacing_mm: float
    aorta_annotated_frames: int = 3
    supersample: int = 3  # render at this factor, then average: partial-volume edges
    artefact_fraction: float = 0.15  # subjects with a hard artefact (ghost, dark slice, low SNR, ...)
    healthy_fraction: float = 0.5
    anatomy_scale: float = (
        1.0  # in-plane size of heart and vessels relative to an adult: a small matrix holds a smaller body
    )
    slice_misalignment_mm: float = 1.5  # SD of the in-plane shift between breath-holds (one per SAX slice)
    snr_range: tuple[float, float] = (15.0, 30.0)  # blood signal ÷ noise sigma, drawn per subject
    low_snr_range: tuple[float, float] = (2.5, 4.0)  # the same for the low-SNR artefact
    blur_sigma_px: float = 0.5  # point-spread function of the scanner, Gaussian


@dataclass(frozen=True)
class SegConfig:
    """Segmentation networks and their training (equal optimizer steps for every scenario)."""

    network: dict = field(default_factory=lambda: {"sax": "res_unet", "aorta": "vgg_fcn"})
    crop_size: dict = field(default_factory=lambda: {"sax": 64, "aorta": 64})
    unet_channels: tuple[int, ...] = (16, 32, 64, 128, 256)
    unet_res_units: int = 2
    fcn_filters: tuple[int, ...] = (16, 32, 64, 128, 256)
    fcn_blocks: tuple[int, ...] = (2, 2, 3, 3, 3)  # conv+BN+ReLU per scale, as ukbb_cardiac
    fcn_scale_features: int = 32  # per-scale feature conv before upsampling
    fcn_head_features: int = 64  # the two 1×1 convs after concatenation
    train_steps: int = 200
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 1e-5
    validate_every_steps: int = 50
    validation_fraction: float = 0.2
    rotation_deg: float = 10.0
    scale_range: float = 0.2
    intensity_jitter: float = 0.1
    bf16: bool = False  # switched on for GPUs
    compile: bool = False  # torch.compile, switched on for GPUs
    predict_batch_size: int = 64
    shuffle_buffer_slices: int = 256  # Ray Data local shuffle buffer of a training shard
    cpus_per_worker: float = 1.0  # per Ray Train worker; torch uses as many threads
    checkpoints_to_keep: int = 2
    max_failures: int = 1


@dataclass(frozen=True)
class QCConfig:
    """The curve-based QC classifier, its simulated reviewer and its operating point."""

    resample_length: int = 32  # curves are resampled to one fixed-length cycle
    dense_units: int = 16
    lstm_hidden: int = 32
    lstm_layers: int = 3
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 1e-2
    gradient_clip_norm: float = 1.0
    error_class_weight: float = 3.0  # loss weight on erroneous cases: optimised for sensitivity
    youden_sensitivity_weight: float = 0.8  # w in J_w = 2[w·Se + (1−w)·Sp] − 1
    assessment_folds: int = (
        5  # subject folds of the cross-validated assessment (`semiqc qc assess`): every subject tested once
    )
    target_sensitivity: float = (
        0.95  # the seed's bar (96% aorta, 95% SAX): results show the specificity the test ROC allows there
    )
    calibration_fraction: float = 0.2  # qc_train subjects that choose the operating threshold
    test_fraction: float = 0.2  # qc_train subjects the reported sensitivity/specificity/AUC come from
    # The reviewer's "erroneous" verdict (clinically relevant error against truth)
    volume_rel_error: float = 0.10
    ef_abs_error_points: float = 5.0
    min_frame_dice: float = 0.7
    reviewer_label_noise: float = 0.02
    failure_injection_fraction: float = 0.3
    model_spread_steps: tuple[int, ...] = (
        100,
    )  # half-model snapshots that make QC cases, beside the final half and full models
    failure_max_px: int = 3  # an injected leak/spike grows or shrinks a mask by 1..this many pixels
    # Typical adult sizes: the QC classifier sees log(curve peak / scale), so only the order matters
    curve_reference_scale: dict = field(
        default_factory=lambda: {
            "lv_volume_ml": 150.0,
            "myo_volume_ml": 120.0,
            "rv_volume_ml": 160.0,
            "aorta_area_mm2": 700.0,
        }
    )


@dataclass(frozen=True)
class InferenceConfig:
    """The Ray Data cohort-inference pipeline."""

    subjects_per_block: int = 1  # subjects per Ray Data block: one decode task, one model call, one measure task
    predict_batch_size: int = 64  # images per model call
    actors: tuple[int, int] = (1, 1)  # (min, max) segmentation actors
    gpus_per_actor: float = 0.0
    cpus_per_actor: float = 1.0
    decode_cpus: float = 1.0  # per decode task
    measure_cpus: float = 0.5  # per curves/metrics/QC/mask-writing task (light: numpy sums, one gzip write)
    subjects_per_part: int = 64  # rows per Parquet part file: the unit a re-run resumes at
    torch_threads_per_actor: int = 0  # 0: as many as the actor's CPUs
    tasks_in_flight_per_actor: int = 2  # the next block is fetched while the model runs
    resource_reservation_ratio: float = 0.5  # share of the CPUs each stage keeps to itself (never starved)
    bf16_on_gpu: bool = True  # ignored on CPU, where the same code runs in float32
    compile_on_gpu: bool = True


@dataclass(frozen=True)
class CRFConfig:
    """The dense CRF of the `ssl_crf` baseline (Bai et al. 2017), mean-field on each 2-D slice.

    Kernels are sized in pixels for the small structures of cine CMR: the natural-image defaults
    (σ 3/5 px, weights 3/5) erase a small aorta and a thin myocardium.
    """

    iterations: int = 5
    spatial_sigma_px: float = 1.0
    bilateral_sigma_px: float = 3.0
    bilateral_sigma_intensity: float = 0.1  # in units of each slice's intensity range
    spatial_weight: float = 1.0
    bilateral_weight: float = 2.0
    slices_per_pass: int = 64  # slices refined together: bounds the CRF's memory (bins × classes × slices planes)


@dataclass(frozen=True)
class ExperimentConfig:
    """The five-scenario experiment of the seed (§3.2)."""

    best_in_class_k: int = 30
    scenarios: tuple[str, ...] = ("full", "half", "ssl_noqc", "ssl_crf", "semiqcseg")
    tasks: tuple[str, ...] = ("aorta", "sax")
    seeds: tuple[int, ...] = (0,)
    max_concurrent_trials: int = 1
    significance_levels: tuple[float, ...] = (0.001,)
    train_workers: int = 1  # Ray Train workers per trial (Train V2 in Tune has no in-process mode)
    train_use_gpu: bool = False  # one GPU per Ray Train worker
    qc_train_workers: int = 1  # Ray Train workers of the QC classifier (0: in the driver's process)
    # The qc stage also cross-validates the QC method by subject (as `semiqc qc assess` does): every
    # qc_train subject tested once. One split's test fifth knows the sensitivity only to about ±0.1.
    cross_validate_qc: bool = True
    trial_cpus: float = 0.0  # a Tune trial only drives its Ray Train run; the workers hold the CPUs/GPUs ...
    trial_memory_mib: int = 256  # ... while the trial holds the memory it builds its slice datasets in
    evaluation_cpus: float = 1.0  # per Ray task that segments and scores the test split with one model
    crf_cpus: float = 1.0  # per Ray task that CRF-refines one subject's pseudo-label


@dataclass(frozen=True)
class Config:
    preset: str
    phantom: PhantomConfig
    seg: SegConfig = field(default_factory=SegConfig)
    qc: QCConfig = field(default_factory=QCConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    crf: CRFConfig = field(default_factory=CRFConfig)
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)

    def replace(self, **section_overrides: dict) -> Config:
        """`cfg.replace(seg={"train_steps": 10})` → a new Config with those fields changed."""
        changed = {}
        for section, overrides in section_overrides.items():
            if section not in SECTIONS:
                raise ValueError(f"unknown config section {section!r}; sections are {sorted(SECTIONS)}")
            current = getattr(self, section)
            unknown = set(overrides) - {f.name for f in dataclasses.fields(current)}
            if unknown:
                raise ValueError(f"unknown {section} field(s): {sorted(unknown)}")
            changed[section] = dataclasses.replace(current, **overrides)
        return dataclasses.replace(self, **changed)

    def differences(self, other: Config) -> list[str]:
        """`section.field=value` for every value of this config that differs from `other`."""
        changed = []
        for section in SECTIONS:
            ours, theirs = getattr(self, section), getattr(other, section)
            for f in dataclasses.fields(ours):
                if getattr(ours, f.name) != getattr(theirs, f.name):
                    changed.append(f"{section}.{f.name}={getattr(ours, f.name)}")
        return changed

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    def save(self, path: Path) -> None:
        write_text(path, self.to_json())

    @classmethod
    def from_json(cls, text: str) -> Config:
        """A config from its JSON; a section or field this version does not know is an error, a
        field the JSON lacks takes its default."""
        raw = json.loads(text)
        unknown_sections = set(raw) - set(SECTIONS) - {"preset"}
        if unknown_sections:
            raise ValueError(f"unknown config section(s) {sorted(unknown_sections)}; sections are {sorted(SECTIONS)}")
        built = {}
        for name, section_cls in SECTIONS.items():
            given = raw.get(name, {})
            known = {f.name for f in dataclasses.fields(section_cls)}
            if set(given) - known:
                raise ValueError(f"unknown {name} field(s): {sorted(set(given) - known)}")
            built[name] = section_cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in given.items()})
        return cls(preset=raw["preset"], **built)

    @classmethod
    def load(cls, path: Path) -> Config:
        return cls.from_json(Path(path).read_text())


# Every section of a Config, by field name: the one list that replace, differences and from_json read.
SECTIONS: dict[str, type] = {
    "phantom": PhantomConfig,
    "seg": SegConfig,
    "qc": QCConfig,
    "inference": InferenceConfig,
    "crf": CRFConfig,
    "experiment": ExperimentConfig,
}


PRESETS: dict[str, Config] = {
    "smoke": Config(
        preset="smoke",
        phantom=PhantomConfig(
            labelled_subjects=6,
            labelled_aorta_subjects=4,
            test_subjects=4,
            qc_train_subjects=16,
            unlabelled_subjects=8,
            sax_frames=10,
            aorta_frames=12,
            sax_matrix=(64, 64),
            aorta_matrix=(64, 64),
            sax_slices=6,
            pixel_mm=2.5,
            slice_spacing_mm=10.0,
            supersample=2,
            anatomy_scale=0.65,
        ),
        seg=SegConfig(
            crop_size={"sax": 48, "aorta": 48},  # the smoke phantom's heart and aorta lie within the central 48²
            unet_channels=(8, 16, 32, 64, 128),
            fcn_filters=(8, 16, 32, 64, 128),
            fcn_scale_features=16,
            fcn_head_features=32,
            train_steps=60,
            batch_size=8,
            learning_rate=1e-2,  # few steps: a high rate learns the smoke SAX half set to Dice ≈ 0.7 in 60 steps
            validate_every_steps=20,
            predict_batch_size=32,
        ),
        # lenient reviewer: rough 60-step models must still give every QC split part both verdicts (docs/PRESETS.md)
        qc=QCConfig(
            resample_length=16,
            dense_units=8,
            lstm_hidden=16,
            epochs=150,
            model_spread_steps=(40,),
            assessment_folds=2,  # tests the plumbing of the cross-validation only
            volume_rel_error=1.5,
            ef_abs_error_points=20.0,
            min_frame_dice=0.45,
        ),
        # 2 cores: fractional decode/measure CPUs so both fit beside the segmentation actor
        inference=InferenceConfig(predict_batch_size=32, decode_cpus=0.5, measure_cpus=0.25, subjects_per_part=4),
        experiment=ExperimentConfig(best_in_class_k=3, max_concurrent_trials=2, qc_train_workers=0),
    ),
    "demo": Config(
        preset="demo",
        phantom=PhantomConfig(
            labelled_subjects=40,
            labelled_aorta_subjects=30,
            test_subjects=20,
            qc_train_subjects=120,
            unlabelled_subjects=80,
            sax_frames=20,
            aorta_frames=30,
            sax_matrix=(64, 64),
            aorta_matrix=(64, 64),
            sax_slices=8,
            pixel_mm=2.5,
            slice_spacing_mm=10.0,
            supersample=2,
            anatomy_scale=0.65,
        ),
        # 600 steps: 10 training runs fit the 20-minute demo (docs/PRESETS.md)
        seg=SegConfig(
            crop_size={"sax": 64, "aorta": 48},  # the aorta lies within the central 48² of the 64² phantom
            unet_channels=(8, 16, 32, 64, 128),
            fcn_filters=(8, 16, 32, 64, 128),
            fcn_scale_features=16,
            fcn_head_features=32,
            train_steps=600,
            batch_size=8,
            learning_rate=3e-3,
            validate_every_steps=100,
        ),
        # small hearts at 2.5 mm: one pixel all round a mask is 28–134 % of a volume (docs/PRESETS.md)
        qc=QCConfig(volume_rel_error=0.25, ef_abs_error_points=10.0, min_frame_dice=0.6),
        # 2 cores, model-bound: two 1-thread actors of 0.5 CPU, light decode/measure tasks (docs/PRESETS.md)
        inference=InferenceConfig(
            actors=(2, 2),
            cpus_per_actor=0.5,
            torch_threads_per_actor=1,
            decode_cpus=0.25,
            measure_cpus=0.25,
            subjects_per_block=4,
            subjects_per_part=16,
        ),
        experiment=ExperimentConfig(best_in_class_k=30, max_concurrent_trials=2, qc_train_workers=0),
    ),
    "paper": Config(
        preset="paper",
        phantom=PhantomConfig(
            labelled_subjects=500,
            labelled_aorta_subjects=138,
            test_subjects=102,
            qc_train_subjects=1000,
            unlabelled_subjects=1000,
            sax_frames=50,
            aorta_frames=100,
            sax_matrix=(192, 208),
            aorta_matrix=(192, 208),
            sax_slices=10,
            pixel_mm=1.8,
            slice_spacing_mm=10.0,
        ),
        seg=SegConfig(
            crop_size={"sax": 192, "aorta": 192},
            train_steps=20000,
            batch_size=32,
            validate_every_steps=500,
            bf16=True,
            compile=True,
            predict_batch_size=256,
        ),
        qc=QCConfig(resample_length=100, dense_units=32, lstm_hidden=64, epochs=200, model_spread_steps=(500, 2000)),
        inference=InferenceConfig(predict_batch_size=256, actors=(1, 8), gpus_per_actor=1.0, cpus_per_actor=2.0),
        experiment=ExperimentConfig(best_in_class_k=30, seeds=(0, 1, 2), max_concurrent_trials=8, train_use_gpu=True),
    ),
}


def load_preset(name: str, **section_overrides: dict) -> Config:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    config = PRESETS[name]
    return config.replace(**section_overrides) if section_overrides else config
