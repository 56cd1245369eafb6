"""Writing output files safely: whole or not at all, and never outside the folder they belong to.

Every output of the pipeline goes through `atomic_write` (or its `write_*` shorthands): the
bytes land in a temporary file beside the target, unique to this process and call, and are
renamed onto the target only once complete, so a crash or a second writer never leaves half a
file. `output_path` builds a path from parts that come from data (subject ids, model names):
it refuses any part that would lead out of the output folder.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write to; on success it replaces `path`, on failure it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # pid + random: two processes (or two calls in one) writing the same file never share a temp file
    partial = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes) -> Path:
    with atomic_write(path) as partial:
        partial.write_bytes(data)
    return Path(path)


def write_text(path: Path, text: str) -> Path:
    with atomic_write(path) as partial:
        partial.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: Path, value) -> Path:
    return write_text(path, json.dumps(value, indent=2, sort_keys=True))


def write_png(path: Path, figure, *, dpi: int = 110) -> Path:
    """A matplotlib `Figure` as a PNG file (tight bounding box), atomically."""
    with atomic_write(path) as partial:
        figure.savefig(partial, format="png", dpi=dpi, bbox_inches="tight")
    return Path(path)


def output_path(root: Path, *parts: str) -> Path:
    """`root/part/…`, refused with a ValueError if any part is empty, absolute or `..`, or if the
    result (symbolic links followed) lies outside `root`."""
    root = Path(root).resolve()
    for part in parts:
        text = str(part)
        if not text or Path(text).is_absolute() or ".." in Path(text).parts:
            raise ValueError(f"{text!r} cannot be part of a path inside the output folder {root}")
    path = root.joinpath(*map(str, parts))
    if root != path.resolve() and root not in path.resolve().parents:
        raise ValueError(f"{path} leaves the output folder {root}")
    return path


def claim_folder(path: Path, identity: dict) -> None:
    """Record in `path` (JSON) what an output folder holds; refuse a folder that holds something else.

    Re-running into a folder resumes it only when every item of `identity` (cohort, model, config
    …) is the same as when it was made; otherwise the error names what differs.
    """
    path = Path(path)
    if not path.exists():
        write_json(path, identity)
        return
    recorded = json.loads(path.read_text())
    changed = sorted(key for key in set(identity) | set(recorded) if recorded.get(key) != identity.get(key))
    if changed:
        raise ValueError(
            f"{path.parent} holds the output of a different {', '.join(changed)} ({path.name}); choose a new output folder"
        )
