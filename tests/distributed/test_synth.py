"""`semiqc synth` (one Ray task per subject) writes the serial cohort byte for byte; `semiqc validate` reads it."""

from __future__ import annotations

import filecmp

from ray_semiqc.cli import main


def _differences(left, right) -> list[str]:
    comparison = filecmp.dircmp(left, right)
    found = [f"{left}/{name}" for name in comparison.left_only + comparison.right_only + comparison.diff_files]
    _, mismatch, errors = filecmp.cmpfiles(left, right, comparison.common_files, shallow=False)
    found += [f"{left}/{name}" for name in mismatch + errors]
    for name in comparison.common_dirs:
        found += _differences(left / name, right / name)
    return found


def test_ray_synth_matches_serial_cohort_and_validates(ray_session, smoke_cohort, tmp_path, capsys):
    out = tmp_path / "cohort"
    assert main(["synth", "--preset", "smoke", "--seed", "0", "--out", str(out), "--montage"]) == 0
    assert capsys.readouterr().out.startswith(f"cohort of 34 subjects written to {out}")

    montage = out / "montage.png"
    assert montage.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    montage.unlink()
    assert _differences(smoke_cohort, out) == []

    assert main(["validate", str(out)]) == 0
    assert "34 subjects checked, 0 unusable" in capsys.readouterr().out
    broken = next((out / "subjects").iterdir()) / "sa.nii.gz"
    broken.write_bytes(b"")
    assert main(["validate", str(out)]) == 1
    printed = capsys.readouterr().out
    assert f"subject {broken.parent.name}: " in printed and "sa.nii.gz: file is empty" in printed
