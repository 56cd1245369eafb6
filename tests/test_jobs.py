"""`ray job submit` of a jobs/ entrypoint to a real `ray start --head` cluster, with token auth on.

The cluster gets its own ports, temp dir and token file, so it never meets the test
session's shared Ray; it is torn down by killing exactly the processes of that temp dir
(`ray stop` would stop every Ray on the machine).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _kill_processes_mentioning(marker: str) -> None:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                os.kill(int(cmdline.parent.name), signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue


@pytest.fixture()
def token_auth_cluster():
    """A head node with token auth, as a fresh Ray 2.60 cluster has it."""
    temp_dir = tempfile.mkdtemp(prefix="rsq_job_")  # short: Ray's socket paths have a length limit
    token_file = Path(temp_dir) / "auth_token"
    token_file.write_text(secrets.token_hex(32))
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token_file),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("RAY_ADDRESS", None)
    dashboard_port = _free_port()
    start = [
        RAY,
        "start",
        "--head",
        "--num-cpus=2",
        "--include-dashboard=true",
        f"--port={_free_port()}",
        f"--dashboard-port={dashboard_port}",
        "--dashboard-host=127.0.0.1",
        f"--ray-client-server-port={_free_port()}",
        f"--dashboard-agent-listen-port={_free_port()}",
        f"--temp-dir={temp_dir}",
        "--disable-usage-stats",
    ]
    subprocess.run(start, env=env, check=True, capture_output=True, timeout=120)
    try:
        yield {"address": f"http://127.0.0.1:{dashboard_port}", "env": env}
    finally:
        _kill_processes_mentioning(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _submit(cluster: dict, env: dict, out: Path) -> subprocess.CompletedProcess:
    runtime_env = '{"excludes": [".venv", ".git", "runs", "*.egg-info"]}'
    command = [
        RAY,
        "job",
        "submit",
        f"--address={cluster['address']}",
        f"--working-dir={REPO}",
        f"--runtime-env-json={runtime_env}",
        "--",
        sys.executable,
        "jobs/synth_cohort.py",
        "--preset",
        "smoke",
        "--out",
        str(out),
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_synth_job_succeeds_under_ray_job_submit_with_token_auth(token_auth_cluster, tmp_path):
    result = _submit(token_auth_cluster, token_auth_cluster["env"], tmp_path / "cohort")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "succeeded" in (result.stdout + result.stderr).lower()
    manifest = pq.read_table(tmp_path / "cohort" / "manifest.parquet")
    assert manifest.num_rows > 0


def test_job_api_refuses_a_client_with_another_token(token_auth_cluster, tmp_path):
    wrong_token = tmp_path / "wrong_token"
    wrong_token.write_text(secrets.token_hex(32))
    stranger = {**token_auth_cluster["env"], "RAY_AUTH_TOKEN_PATH": str(wrong_token)}
    result = _submit(token_auth_cluster, stranger, tmp_path / "cohort")
    assert result.returncode != 0
    assert "Invalid authentication token" in result.stdout + result.stderr
    assert not (tmp_path / "cohort" / "manifest.parquet").exists()
