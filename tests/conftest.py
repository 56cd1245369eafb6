"""Fixtures shared by the whole suite: one Ray session, one smoke cohort, seeded."""

from __future__ import annotations

from pathlib import Path

import pytest

from ray_semiqc.config import Config, load_preset


@pytest.fixture(scope="session")
def smoke_config() -> Config:
    return load_preset("smoke")


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for every test that needs it: `ray.init` costs seconds, so it is shared."""
    import ray

    if not ray.is_initialized():
        # address="local": never join a cluster someone else started on this machine
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def smoke_cohort(tmp_path_factory, smoke_config) -> Path:
    """The smoke phantom cohort, generated once (serially, no Ray) for the whole session."""
    from ray_semiqc.cohort.phantom import write_cohort

    root = tmp_path_factory.mktemp("smoke_cohort")
    write_cohort(root, smoke_config.phantom, seed=0)
    return root
