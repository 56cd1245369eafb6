"""Cohort inference with Ray Data: every subject exactly once (bad files as error rows), resume,
masks on the original grid, a dead actor, and two simulated nodes."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nibabel as nib
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from ray_semiqc.cli import main
from ray_semiqc.cohort.manifest import SubjectRecord, read_manifest, write_manifest
from ray_semiqc.cohort.nifti import spacing_affine, write_volume
from ray_semiqc.cohort.subject import load_subject
from ray_semiqc.distributed.inference import (
    SubjectSegmenter,
    infer_cohort,
    plan_inference,
    stream_subjects,
)
from ray_semiqc.models.checkpoint import CheckpointMeta, load_checkpoint, save_checkpoint
from ray_semiqc.models.registry import build_network, network_arguments
from ray_semiqc.qc.classifier import QCClassifier
from ray_semiqc.qc.curves_table import consolidate_parts, row_curves, write_curves_table
from ray_semiqc.seg.predict import segment_subject
from ray_semiqc.tasks import SAX

SHAPE = (40, 28, 2, 4)  # X larger than the crop, Y smaller: restoring must undo a crop and a pad
CROP = 32
SPACING_MM = (2.5, 2.5, 10.0)
GOOD = [f"U{index:02d}" for index in range(6)]
# Bad subjects and the words their error row must contain.
BAD = {
    "U_truncated": "unreadable NIfTI",
    "U_not_gzip": "unreadable NIfTI",
    "U_3d": "expected a 4-D",
    "U_missing": "file is missing",
    "U_escaping": "escapes the cohort root",
    "U_bad_ed": "ED frame 99",
}


def _image(rng: np.random.Generator) -> np.ndarray:
    x, y = np.meshgrid(np.arange(SHAPE[0]), np.arange(SHAPE[1]), indexing="ij")
    image = np.zeros(SHAPE, np.float32)
    for t in range(SHAPE[3]):
        radius = 6 + 2 * np.cos(2 * np.pi * t / SHAPE[3])
        image[..., t] = (np.hypot(x - 20, y - 14) < radius)[:, :, None] * 300.0
    return (image + rng.normal(50, 10, SHAPE)).astype(np.int16)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("inference_cohort")
    rng = np.random.default_rng(0)
    affine = spacing_affine(SPACING_MM)
    affine[:3, 3] = (-12.0, 30.5, 7.0)  # a non-trivial origin the masks must keep
    records = []
    for subject_id in [*GOOD, *BAD, "L00"]:
        folder = root / "subjects" / subject_id
        if subject_id == "U_3d":
            write_volume(folder / "sa.nii.gz", _image(rng)[..., 0], affine)
        elif subject_id != "U_missing":
            write_volume(folder / "sa.nii.gz", _image(rng), affine)
        records.append(
            SubjectRecord(
                subject_id=subject_id,
                split="labelled" if subject_id == "L00" else "unlabelled",
                group="healthy",
                sa_path="../outside/sa.nii.gz" if subject_id == "U_escaping" else f"subjects/{subject_id}/sa.nii.gz",
                ao_path=None,
                ed_frame=99 if subject_id == "U_bad_ed" else 0,
            )
        )
    image = root / "subjects" / "U_truncated" / "sa.nii.gz"
    image.write_bytes(image.read_bytes()[: image.stat().st_size // 2])
    (root / "subjects" / "U_not_gzip" / "sa.nii.gz").write_bytes(b"this is not a NIfTI file at all" * 10)
    write_manifest(root, records)
    return root


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, smoke_config) -> Path:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = build_network("res_unet", SAX, smoke_config.seg)
    meta = CheckpointMeta(
        network="res_unet",
        task="sax",
        arguments=network_arguments("res_unet", SAX, smoke_config.seg),
        preset="smoke",
        crop_size=CROP,
        normalisation=SAX.normalisation,
        step=0,
        validation_dice=math.nan,
        seg_config=dataclasses.asdict(smoke_config.seg),
    )
    return save_checkpoint(tmp_path_factory.mktemp("model") / "model.pt", network, meta)


@pytest.fixture(scope="module")
def qc_model_path(tmp_path_factory, smoke_config) -> Path:
    """A QC classifier fitted on toy cycles: smooth ones good, ones with a dropped frame erroneous."""
    rng = np.random.default_rng(1)
    cases, erroneous = [], []
    for index in range(24):
        phase = 2 * np.pi * np.arange(SHAPE[3]) / SHAPE[3]
        curves = {
            name: scale * (1.2 + np.cos(phase)) + rng.uniform(0, 2, SHAPE[3])
            for name, scale in (("lv_volume_ml", 60), ("myo_volume_ml", 50), ("rv_volume_ml", 70))
        }
        if index % 2:
            curves["lv_volume_ml"][1] = 1.0
        cases.append(curves)
        erroneous.append(bool(index % 2))
    config = dataclasses.replace(smoke_config.qc, epochs=3)
    classifier = QCClassifier.from_config("sax", config, seed=0).fit(cases, erroneous)
    return classifier.save(tmp_path_factory.mktemp("qc") / "qc.pt")


@pytest.fixture(scope="module")
def full_run(ray_session, cohort, model_path, qc_model_path, smoke_config, tmp_path_factory):
    """One pipeline run over the whole unlabelled split, with masks and QC, during which the segmentation
    actor kills itself once (and Ray restarts it); shared by the tests that read its output."""
    out = tmp_path_factory.mktemp("full_run")
    marker = out / "actor_killed"

    class SegmenterThatDiesOnce(SubjectSegmenter):  # local: cloudpickle ships it to the actor by value
        def __call__(self, batch):
            if "U03" in list(batch["subject_id"]) and not marker.exists():
                marker.write_text(str(os.getpid()))
                os._exit(1)
            return super().__call__(batch)

    plan = plan_inference(cohort, "sax", model_path, out, qc_model_path=qc_model_path, write_masks=True)
    streamed = stream_subjects(plan, smoke_config.inference, segmenter_class=SegmenterThatDiesOnce)
    consolidate_parts(plan.parts_dir, list(plan.subject_ids), out / "curves.parquet")
    return out, streamed.images


def test_every_subject_ends_in_the_output_exactly_once_with_bad_files_as_error_rows(full_run):
    out, images = full_run
    assert (out / "actor_killed").exists()  # the actor did die mid-run
    table = pq.read_table(out / "curves.parquet").to_pylist()
    by_id = {row["subject_id"]: row for row in table}
    assert len(table) == len(by_id) == len(GOOD) + len(BAD)  # once each; the labelled subject is not input
    assert [row["subject_id"] for row in table] == [*GOOD, *[s for s in BAD if s != "U_escaping"], "U_escaping"]
    for subject_id in GOOD:
        row = by_id[subject_id]
        assert row["status"] == "ok" and row["error"] is None
        assert len(row["lv_volume_ml"]) == SHAPE[3]  # one volume per frame
    for subject_id, words in BAD.items():
        row = by_id[subject_id]
        assert row["status"] == "error", subject_id
        assert words in row["error"] and subject_id in row["error"], row["error"]
    # Every slice of the decodable subjects was segmented once (U_bad_ed decodes; it fails measuring).
    assert images == (len(GOOD) + 1) * SHAPE[2] * SHAPE[3]
    # Errors are rows, not masks; every ok subject has its mask.
    assert sorted(p.name for p in (out / "masks").iterdir()) == GOOD


def test_curves_match_the_volumes_of_the_written_masks(full_run):
    out, _ = full_run
    rows = {row["subject_id"]: row for row in pq.read_table(out / "curves.parquet").to_pylist()}
    voxel_ml = np.prod(SPACING_MM) / 1000.0
    for subject_id in GOOD:
        mask = np.asarray(nib.load(out / "masks" / subject_id / "seg_sa.nii.gz").dataobj)
        for label, curve in ((1, "lv_volume_ml"), (2, "myo_volume_ml"), (3, "rv_volume_ml")):
            np.testing.assert_allclose(rows[subject_id][curve], (mask == label).sum(axis=(0, 1, 2)) * voxel_ml)


def test_masks_land_on_the_original_grid_as_segment_subject_makes_them(full_run, cohort, model_path):
    out, _ = full_run
    model, meta = load_checkpoint(model_path)
    manifest = read_manifest(cohort)
    for subject_id in GOOD[:2]:
        subject = load_subject(cohort, manifest.by_id()[subject_id], SAX, with_label=False)
        expected = segment_subject(model, subject.image, SAX, meta.crop_size, "cpu", batch_size=8)
        written = nib.load(out / "masks" / subject_id / "seg_sa.nii.gz")
        assert written.shape == SHAPE
        np.testing.assert_array_equal(np.asarray(written.dataobj), expected)
        np.testing.assert_allclose(written.affine, subject.affine)


def test_qc_probability_is_the_classifiers_on_the_rows_own_curves_or_a_reason(full_run, qc_model_path):
    out, _ = full_run
    classifier = QCClassifier.load(qc_model_path)
    scored = 0
    for row in pq.read_table(out / "curves.parquet").to_pylist():
        if row["status"] != "ok":
            assert row["qc_probability_good"] is None and row["qc_error"] is None and row["qc_model"] is None
            continue
        assert row["qc_model"] == classifier.version_
        curves = row_curves(row)
        if any(curve.max() == 0 for curve in curves.values()):
            assert row["qc_probability_good"] is None and "zero in every frame" in row["qc_error"]
        else:
            assert row["qc_probability_good"] == pytest.approx(classifier.predict_proba([curves])[0, 0])
            scored += 1
    assert scored > 0


def test_a_rerun_skips_subjects_already_done_and_never_duplicates_rows(
    full_run, cohort, model_path, qc_model_path, smoke_config, tmp_path, capsys
):
    """An interrupted run is simulated by keeping one finished part of four subjects from the full run."""
    full_out, _ = full_run
    shutil.copy(full_out / "inference.json", tmp_path / "inference.json")
    finished = [row for part in (full_out / "parts").iterdir() for row in pq.read_table(part).to_pylist()]
    kept = [row for row in finished if row["subject_id"] in ("U00", "U01", "U02", "U_3d")]
    (tmp_path / "parts").mkdir()
    write_curves_table(tmp_path / "parts" / "part-earlier.parquet", kept)
    rerun = infer_cohort(
        cohort, "sax", model_path, tmp_path, smoke_config, qc_model_path=qc_model_path, write_masks=True
    )
    table = pq.read_table(rerun.curves_path).to_pylist()
    ids = [row["subject_id"] for row in table]
    assert sorted(ids) == sorted(GOOD + list(BAD)) and len(ids) == len(set(ids))
    assert (rerun.subjects_total, rerun.subjects_ok, rerun.subjects_error, rerun.subjects_resumed) == (12, 6, 6, 4)
    assert rerun.images_per_s > 0 and str(rerun).startswith(
        "12 subjects: 6 ok, 6 error, 4 resumed from an earlier run;"
    )
    # 8 subjects in parts of 4: the start-up cost and the rate after it are reported apart
    assert 0 < rerun.seconds_to_first_rows < rerun.seconds and rerun.steady_subjects_per_s > 0
    assert f"first rows after {rerun.seconds_to_first_rows:.1f} s" in str(rerun)
    assert not (tmp_path / "masks" / "U00").exists()  # resumed subjects were not segmented again
    assert (tmp_path / "masks" / "U03").exists()
    # Once more through `semiqc infer` (what jobs/infer_cohort.py runs): nothing left to do, one summary line.
    arguments = ["--cohort", str(cohort), "--task", "sax", "--model", str(model_path), "--qc", str(qc_model_path)]
    assert main(["infer", *arguments, "--out", str(tmp_path), "--preset", "smoke", "--masks"]) == 0
    assert capsys.readouterr().out.startswith(
        "12 subjects: 6 ok, 6 error, 12 resumed from an earlier run; 0.00 subjects/s"
    )


def test_an_output_folder_of_another_model_is_refused(cohort, model_path, tmp_path):
    plan_inference(cohort, "sax", model_path, tmp_path)
    with pytest.raises(ValueError, match="different masks"):
        plan_inference(cohort, "sax", model_path, tmp_path, write_masks=True)


def test_a_subject_without_a_row_is_an_error_not_a_silent_drop(cohort, model_path, tmp_path):
    plan = plan_inference(cohort, "sax", model_path, tmp_path, subject_ids=["U00", "U01"])
    with pytest.raises(RuntimeError, match="lost 2 subject"):
        consolidate_parts(plan.parts_dir, list(plan.subject_ids), tmp_path / "curves.parquet")


def test_subjects_not_in_the_manifest_are_error_rows_and_the_plan_lists_each_once(cohort, model_path, tmp_path):
    plan = plan_inference(cohort, "sax", model_path, tmp_path, subject_ids=["U01", "nobody", "U01"])
    assert plan.subject_ids == ("U01", "nobody")
    assert plan.pending[1]["problem"] == "subject nobody: not in the cohort manifest"


def test_runs_on_a_cluster_of_two_simulated_nodes(cohort, model_path, tmp_path):
    """A driver-only head (0 CPUs) and two 1-CPU nodes: the segmentation actor fills one node, so decode and
    measure tasks must run on the other. In a subprocess, since this process holds the shared Ray session."""
    out = tmp_path / "out"
    subjects = ["U00", "U01", "U_3d"]
    script = textwrap.dedent(
        f"""
        import json, ray
        from ray.cluster_utils import Cluster
        from ray_semiqc.config import load_preset
        from ray_semiqc.distributed.inference import infer_cohort

        cluster = Cluster(initialize_head=True, head_node_args={{"num_cpus": 0, "include_dashboard": False}})
        workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
        ray.init(address=cluster.address, log_to_driver=False)
        config = load_preset("smoke")
        summary = infer_cohort({str(cohort)!r}, "sax", {str(model_path)!r}, {str(out)!r}, config, subject_ids={subjects!r})
        nodes = [node for node in ray.nodes() if node["Alive"] and node["Resources"].get("CPU", 0) > 0]
        print("RESULT", json.dumps({{"ok": summary.subjects_ok, "error": summary.subjects_error, "cpu_nodes": len(nodes)}}))
        ray.shutdown()
        cluster.shutdown()
        """
    )
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240, env=env)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    assert json.loads(lines[0][len("RESULT") :]) == {"ok": 2, "error": 1, "cpu_nodes": 2}
    assert pq.read_table(out / "curves.parquet").column("subject_id").to_pylist() == subjects
