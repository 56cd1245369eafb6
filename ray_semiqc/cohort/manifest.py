"""`manifest.parquet`: one row per subject, the declarative description of a cohort.

Paths are relative to the cohort root. A sparse label (only some frames annotated) is the
full 4-D volume plus its annotated frame indices here: frames not listed are unknown,
never background. Rows that cannot be used become `Manifest.problems`, not silent drops.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ray_semiqc.cohort.errors import CohortError
from ray_semiqc.files import atomic_write
from ray_semiqc.tasks import Task

MANIFEST_FILE = "manifest.parquet"
SPLITS = ("labelled", "unlabelled", "test", "qc_train")
PHANTOM_PREFIX = "phantom_"  # generating parameters of phantom subjects, one float column each
# Ids name output folders and files (masks/<id>/, figure keys): letters, digits, '.', '_', '-' only,
# so no id can climb out of a folder, nest folders or hide as a dot file.
SUBJECT_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class SubjectRecord:
    subject_id: str
    split: str
    group: str  # healthy, DCM, HCM, hypokinesia, RV_dilation, ... or unknown
    sa_path: str | None
    ao_path: str | None
    label_sa_path: str | None = None
    label_ao_path: str | None = None
    sax_annotated_frames: tuple[int, ...] = ()
    aorta_annotated_frames: tuple[int, ...] = ()
    ed_frame: int = 0
    es_frame: int | None = None
    central_pulse_pressure_mmhg: float | None = None
    source: str = "phantom"  # phantom | ukbb | acdc
    artefact: str = "none"  # phantom image artefact: none, ghosting, dark_slice, low_snr, missing_base
    phantom: dict[str, float] = field(default_factory=dict)

    def image_path(self, task: Task) -> str | None:
        return getattr(self, task.image_column)

    def label_path(self, task: Task) -> str | None:
        return getattr(self, task.label_column)

    def annotated_frames(self, task: Task) -> tuple[int, ...]:
        return getattr(self, task.annotated_frames_column)


_SCHEMA_FIELDS = [
    ("subject_id", pa.string()),
    ("split", pa.string()),
    ("group", pa.string()),
    ("sa_path", pa.string()),
    ("ao_path", pa.string()),
    ("label_sa_path", pa.string()),
    ("label_ao_path", pa.string()),
    ("sax_annotated_frames", pa.list_(pa.int32())),
    ("aorta_annotated_frames", pa.list_(pa.int32())),
    ("ed_frame", pa.int32()),
    ("es_frame", pa.int32()),
    ("central_pulse_pressure_mmhg", pa.float64()),
    ("source", pa.string()),
    ("artefact", pa.string()),
]


def write_manifest(root: Path, records: list[SubjectRecord]) -> Path:
    columns = {name: [getattr(r, name) for r in records] for name, _ in _SCHEMA_FIELDS}
    columns["sax_annotated_frames"] = [list(r.sax_annotated_frames) for r in records]
    columns["aorta_annotated_frames"] = [list(r.aorta_annotated_frames) for r in records]
    arrays = [pa.array(columns[name], type=kind) for name, kind in _SCHEMA_FIELDS]
    fields = [pa.field(name, kind) for name, kind in _SCHEMA_FIELDS]
    parameter_names = sorted({name for r in records for name in r.phantom})
    for name in parameter_names:
        arrays.append(pa.array([r.phantom.get(name) for r in records], type=pa.float64()))
        fields.append(pa.field(PHANTOM_PREFIX + name, pa.float64()))
    path = Path(root) / MANIFEST_FILE
    with atomic_write(path) as partial:
        pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), partial)
    return path


@dataclass
class Manifest:
    root: Path
    records: list[SubjectRecord]
    problems: list[CohortError]  # rows that cannot be used, each with its reason

    def split(self, name: str) -> list[SubjectRecord]:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; choose one of {SPLITS}")
        return [r for r in self.records if r.split == name]

    def by_id(self) -> dict[str, SubjectRecord]:
        return {r.subject_id: r for r in self.records}

    def resolve(self, record: SubjectRecord, relative: str | None) -> Path:
        return resolve_path(self.root, record.subject_id, relative)


def subject_id_problem(subject_id: str) -> str | None:
    """Why a subject id cannot be used (it names folders and files of every output), or None."""
    if SUBJECT_ID_PATTERN.fullmatch(subject_id):
        return None
    return (
        f"subject id {subject_id!r} is not usable: 1–64 characters of letters, digits, '.', '_' or '-', "
        "starting with a letter or digit"
    )


def resolve_path(root: Path, subject_id: str, relative: str | None) -> Path:
    """A manifest path, refused if it is absent, absolute or escapes the cohort root."""
    if not relative:
        raise CohortError(subject_id, None, "manifest gives no path for this file")
    if Path(relative).is_absolute():
        raise CohortError(subject_id, relative, "manifest path is absolute; it must be relative to the cohort root")
    root = Path(root).resolve()
    full = (root / relative).resolve()
    if root not in full.parents:
        raise CohortError(subject_id, relative, "manifest path escapes the cohort root")
    return full


def read_manifest(root: Path) -> Manifest:
    root = Path(root)
    path = root / MANIFEST_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path}: no manifest; is {root} a cohort folder?")
    table = pq.read_table(path)
    rows = table.to_pylist()
    rows_per_id = Counter(str(row["subject_id"]) for row in rows)
    records, problems = [], []
    for row in rows:
        subject_id = str(row["subject_id"])
        if rows_per_id[subject_id] > 1:
            if subject_id not in {p.subject_id for p in problems}:
                problems.append(
                    CohortError(
                        subject_id, MANIFEST_FILE, f"subject id on {rows_per_id[subject_id]} rows; none of them is used"
                    )
                )
            continue
        unsafe = subject_id_problem(subject_id)
        if unsafe:
            problems.append(CohortError(subject_id, MANIFEST_FILE, unsafe))
            continue
        if row["split"] not in SPLITS:
            problems.append(CohortError(subject_id, MANIFEST_FILE, f"unknown split {row['split']!r}"))
            continue
        record = SubjectRecord(
            subject_id=subject_id,
            split=row["split"],
            group=row.get("group") or "unknown",
            sa_path=row.get("sa_path"),
            ao_path=row.get("ao_path"),
            label_sa_path=row.get("label_sa_path"),
            label_ao_path=row.get("label_ao_path"),
            sax_annotated_frames=tuple(row.get("sax_annotated_frames") or ()),
            aorta_annotated_frames=tuple(row.get("aorta_annotated_frames") or ()),
            ed_frame=int(row.get("ed_frame") or 0),
            es_frame=row.get("es_frame"),
            central_pulse_pressure_mmhg=row.get("central_pulse_pressure_mmhg"),
            source=row.get("source") or "unknown",
            artefact=row.get("artefact") or "none",
            phantom={
                k[len(PHANTOM_PREFIX) :]: v for k, v in row.items() if k.startswith(PHANTOM_PREFIX) and v is not None
            },
        )
        try:
            for relative in (record.sa_path, record.ao_path, record.label_sa_path, record.label_ao_path):
                if relative:
                    resolve_path(root, subject_id, relative)
        except CohortError as err:
            problems.append(err)
            continue
        records.append(record)
    return Manifest(root=root, records=records, problems=problems)
