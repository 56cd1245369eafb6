"""Atomic writes and the output-folder guard."""

from __future__ import annotations

import pytest

from ray_semiqc.files import atomic_write, output_path, write_json, write_text


def test_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = write_text(tmp_path / "state.json", "old")
    with pytest.raises(RuntimeError), atomic_write(target) as partial:
        partial.write_text("half")
        raise RuntimeError("writer died")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_two_open_writes_of_one_file_use_different_temp_files(tmp_path):
    with atomic_write(tmp_path / "a.txt") as first, atomic_write(tmp_path / "a.txt") as second:
        assert first != second
        first.write_text("1")
        second.write_text("2")
    assert (tmp_path / "a.txt").read_text() == "1"  # the outer write finished last


def test_write_json_creates_parent_folders(tmp_path):
    path = write_json(tmp_path / "deep" / "er" / "x.json", {"b": 1, "a": [1, 2]})
    assert path.read_text().startswith('{\n  "a"')


@pytest.mark.parametrize("part", ["../../escaped", "/etc/passwd", "a/../../b", ""])
def test_output_path_refuses_parts_that_leave_the_folder(tmp_path, part):
    with pytest.raises(ValueError, match="output folder"):
        output_path(tmp_path / "out", "masks", part)


def test_output_path_refuses_a_symlink_out_of_the_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="leaves the output folder"):
        output_path(out, "link", "x.nii.gz")


def test_output_path_accepts_nested_safe_parts(tmp_path):
    assert (
        output_path(tmp_path, "masks", "1000001", "seg_sa.nii.gz") == tmp_path.resolve() / "masks/1000001/seg_sa.nii.gz"
    )
