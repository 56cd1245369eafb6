"""cluster.yaml is valid for Ray's own autoscaler schema and keeps the promises docs/CLUSTER.md makes."""

import copy
from pathlib import Path

import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

CLUSTER_YAML = Path(__file__).resolve().parents[1] / "cluster.yaml"


def _cluster() -> dict:
    return yaml.safe_load(CLUSTER_YAML.read_text())


def test_cluster_yaml_passes_rays_schema():
    prepared = prepare_config(copy.deepcopy(_cluster()))
    validate_config(prepared)


def test_head_runs_no_work_and_workers_autoscale_from_zero():
    cluster = _cluster()
    nodes = cluster["available_node_types"]
    assert nodes[cluster["head_node_type"]]["resources"] == {"CPU": 0}
    workers = {name: node for name, node in nodes.items() if name != cluster["head_node_type"]}
    assert {"gpu_worker", "cpu_decode_worker"} <= set(workers)
    assert all(node["min_workers"] == 0 and node["max_workers"] > 0 for node in workers.values())


def test_images_match_the_ray_we_pin():
    import ray

    docker = _cluster()["docker"]
    assert docker["image"].startswith(f"rayproject/ray:{ray.__version__}")
    assert docker["head_image"].startswith(f"rayproject/ray:{ray.__version__}")


def test_dashboard_and_job_server_listen_only_on_loopback():
    head_start = " ".join(_cluster()["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head_start


def test_setup_installs_this_package():
    cluster = _cluster()
    assert cluster["file_mounts"]["~/ray_semiqc"] == "."
    assert any("pip install" in command and "~/ray_semiqc" in command for command in cluster["setup_commands"])
