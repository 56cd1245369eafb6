"""Joining or starting a Ray cluster: one place, so every entrypoint behaves the same."""

from __future__ import annotations

import ray


def ensure_ray() -> None:
    """Connect to the cluster a `ray job submit` runs in (RAY_ADDRESS), else start a local one.

    A new local cluster turns on token auth in Ray 2.60; jobs and clients pick the token up.
    """
    if not ray.is_initialized():
        ray.init(log_to_driver=True)
