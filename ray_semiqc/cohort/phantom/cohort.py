"""A phantom cohort in the UK Biobank layout: plan who is in it, then write each subject.

`plan_cohort` is cheap and decides everything cohort-wide (ids, splits, groups in the
seed's 50/50 proportions, who carries an artefact, one seed per subject); `write_subject`
is the unit of parallel work and depends only on its spec, so serial and Ray generation
write the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ray_semiqc.cohort.manifest import Manifest, SubjectRecord, read_manifest, write_manifest
from ray_semiqc.cohort.nifti import spacing_affine, write_volume
from ray_semiqc.cohort.phantom.acquisition import ARTEFACTS, acquire
from ray_semiqc.cohort.phantom.anatomy import draw_contrast, draw_thorax
from ray_semiqc.cohort.phantom.aorta import render_aorta
from ray_semiqc.cohort.phantom.physiology import CARDIOMYOPATHY_GROUPS, HEALTHY, draw_physiology
from ray_semiqc.cohort.phantom.sax import render_sax
from ray_semiqc.cohort.truth import TRUTH_DIR
from ray_semiqc.config import PhantomConfig
from ray_semiqc.tasks import AORTA, SAX

SUBJECTS_DIR = "subjects"
FIRST_SUBJECT_ID = 1_000_000  # seven-digit ids, like UK Biobank eids ...
IDS_PER_SPLIT = 2_000_000  # ... each split drawing from its own range
AORTA_ARTEFACTS = ("ghosting", "low_snr")  # the others concern the SAX stack only


@dataclass(frozen=True)
class SubjectSpec:
    subject_id: str
    split: str
    group: str
    artefact: str  # "none" or one of acquisition.ARTEFACTS
    aorta_labelled: bool  # labelled split: also annotate 3 aortic frames
    seed: int


def plan_cohort(phantom_config: PhantomConfig, seed: int, n_unlabelled: int | None = None) -> list[SubjectSpec]:
    """Every subject's id, split, group, artefact and seed.

    Each split draws from its own generator and id range, so resizing the unlabelled pool
    leaves the labelled, test and QC-training subjects exactly as they were.
    """
    sizes = {
        "labelled": phantom_config.labelled_subjects,
        "test": phantom_config.test_subjects,
        "qc_train": phantom_config.qc_train_subjects,
        "unlabelled": phantom_config.unlabelled_subjects if n_unlabelled is None else n_unlabelled,
    }
    specs, artefacts_so_far = [], 0
    for split_index, (split, n) in enumerate(sizes.items()):
        if n > IDS_PER_SPLIT:
            raise ValueError(f"{n} {split} subjects exceed the {IDS_PER_SPLIT} ids a split has")
        rng = np.random.default_rng([seed, split_index])
        ids = FIRST_SUBJECT_ID + split_index * IDS_PER_SPLIT + rng.choice(IDS_PER_SPLIT, size=n, replace=False)
        groups = _groups(n, phantom_config.healthy_fraction, rng)
        artefacts = _artefacts(n, phantom_config.artefact_fraction, artefacts_so_far, rng)
        artefacts_so_far += sum(a != "none" for a in artefacts)
        subject_seeds = rng.integers(0, 2**63 - 1, size=n)
        for i in range(n):
            specs.append(
                SubjectSpec(
                    subject_id=str(ids[i]),
                    split=split,
                    group=groups[i],
                    artefact=artefacts[i],
                    aorta_labelled=split == "labelled" and i < phantom_config.labelled_aorta_subjects,
                    seed=int(subject_seeds[i]),
                )
            )
    return specs


def _groups(n: int, healthy_fraction: float, rng: np.random.Generator) -> list[str]:
    """Exactly round(n · healthy_fraction) healthy; the rest spread evenly over the cardiomyopathies."""
    n_healthy = int(round(n * healthy_fraction))
    diseased = [CARDIOMYOPATHY_GROUPS[i % len(CARDIOMYOPATHY_GROUPS)] for i in range(n - n_healthy)]
    return [str(g) for g in rng.permutation([HEALTHY] * n_healthy + diseased)] if n else []


def _artefacts(n: int, fraction: float, first_kind: int, rng: np.random.Generator) -> list[str]:
    """round(n · fraction) hard cases; the kinds rotate across splits so small cohorts see them all."""
    n_hard = int(round(n * fraction))
    hard = [ARTEFACTS[(first_kind + i) % len(ARTEFACTS)] for i in range(n_hard)]
    return [str(a) for a in rng.permutation(hard + ["none"] * (n - n_hard))] if n else []


def write_subject(root: Path, spec: SubjectSpec, phantom_config: PhantomConfig) -> SubjectRecord:
    """Render one subject, write its cines, its (sparse) labels and its hidden truth."""
    root = Path(root)
    rng = np.random.default_rng(spec.seed)
    physiology = draw_physiology(spec.group, rng)
    fov_mm = (
        phantom_config.sax_matrix[0] * phantom_config.pixel_mm,
        phantom_config.sax_matrix[1] * phantom_config.pixel_mm,
    )
    thorax = draw_thorax(fov_mm, phantom_config.anatomy_scale, rng)
    contrast = draw_contrast(rng)
    sax = render_sax(physiology, phantom_config, thorax, contrast, spec.artefact, rng)
    sax_image = acquire(sax.contrast, phantom_config, spec.artefact, rng)
    aorta = render_aorta(physiology, phantom_config, thorax, contrast, rng)
    aorta_artefact = spec.artefact if spec.artefact in AORTA_ARTEFACTS else "none"
    aorta_image = acquire(aorta.contrast, phantom_config, aorta_artefact, rng)
    aorta_annotated = tuple(
        sorted(
            int(f)
            for f in rng.choice(phantom_config.aorta_frames, phantom_config.aorta_annotated_frames, replace=False)
        )
    )

    affine = spacing_affine((phantom_config.pixel_mm, phantom_config.pixel_mm, phantom_config.slice_spacing_mm))
    sax_interval, aorta_interval = sax.parameters["sax_frame_interval_ms"], aorta.parameters["aorta_frame_interval_ms"]
    folder = f"{SUBJECTS_DIR}/{spec.subject_id}"
    write_volume(root / folder / SAX.image_file, sax_image.image, affine, sax_interval)
    write_volume(root / folder / AORTA.image_file, aorta_image.image, affine, aorta_interval)
    # every subject's full-cycle truth, for evaluation, the simulated reviewer and analysis
    write_volume(root / TRUTH_DIR / spec.subject_id / SAX.label_file, sax.label, affine, sax_interval)
    write_volume(root / TRUTH_DIR / spec.subject_id / AORTA.label_file, aorta.label, affine, aorta_interval)

    label_sa = label_ao = None
    sax_frames: tuple[int, ...] = ()
    aorta_frames: tuple[int, ...] = ()
    if spec.split == "test":
        sax_frames, aorta_frames = tuple(range(phantom_config.sax_frames)), tuple(range(phantom_config.aorta_frames))
        label_sa, label_ao = f"{folder}/{SAX.label_file}", f"{folder}/{AORTA.label_file}"
        write_volume(root / label_sa, sax.label, affine, sax_interval)
        write_volume(root / label_ao, aorta.label, affine, aorta_interval)
    elif spec.split == "labelled":
        sax_frames = (0, sax.es_frame)
        label_sa = f"{folder}/{SAX.label_file}"
        write_volume(root / label_sa, _sparse(sax.label, sax_frames), affine, sax_interval)
        if spec.aorta_labelled:
            aorta_frames = aorta_annotated
            label_ao = f"{folder}/{AORTA.label_file}"
            write_volume(root / label_ao, _sparse(aorta.label, aorta_frames), affine, aorta_interval)

    parameters = {**sax.parameters, **aorta.parameters, "snr": sax_image.snr}
    return SubjectRecord(
        subject_id=spec.subject_id,
        split=spec.split,
        group=spec.group,
        sa_path=f"{folder}/{SAX.image_file}",
        ao_path=f"{folder}/{AORTA.image_file}",
        label_sa_path=label_sa,
        label_ao_path=label_ao,
        sax_annotated_frames=sax_frames,
        aorta_annotated_frames=aorta_frames,
        ed_frame=0,
        es_frame=sax.es_frame,
        central_pulse_pressure_mmhg=physiology.central_pulse_pressure_mmhg,
        source="phantom",
        artefact=spec.artefact,
        phantom={name: float(value) for name, value in parameters.items()},
    )


def _sparse(label: np.ndarray, frames: tuple[int, ...]) -> np.ndarray:
    """Only the annotated frames keep their labels; the rest are zeros the manifest marks unknown."""
    sparse = np.zeros_like(label)
    sparse[..., list(frames)] = label[..., list(frames)]
    return sparse


def write_cohort(root: Path, phantom_config: PhantomConfig, seed: int, n_unlabelled: int | None = None) -> Manifest:
    """The whole cohort, serially (`distributed.synth.synthesise_cohort` is the parallel twin)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    records = [write_subject(root, spec, phantom_config) for spec in plan_cohort(phantom_config, seed, n_unlabelled)]
    write_manifest(root, records)
    return read_manifest(root)
