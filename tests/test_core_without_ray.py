"""Principle: Ray stays out of the core, provably — every core module imports with `ray` unimportable."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import ray_semiqc

CORE_PACKAGES = ("cohort", "models", "seg", "qc", "evaluate")
CORE_MODULES = ("ray_semiqc.config", "ray_semiqc.tasks", "ray_semiqc.measures")


def _core_modules() -> list[str]:
    root = Path(ray_semiqc.__file__).parent
    names = list(CORE_MODULES)
    for package in CORE_PACKAGES:
        names.append(f"ray_semiqc.{package}")
        for info in pkgutil.walk_packages([str(root / package)], prefix=f"ray_semiqc.{package}."):
            names.append(info.name)
    return names


def test_core_modules_import_with_ray_unimportable():
    modules = _core_modules()
    assert len(modules) > len(CORE_MODULES) + len(CORE_PACKAGES), "no core modules were found"
    script = "import sys, importlib\nsys.modules['ray'] = None\n" + "".join(
        f"importlib.import_module({name!r})\n" for name in modules
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
