"""Writing results so that a crash or a kill at any moment leaves either the old file or the new one, whole."""

import json
import os
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w"):
    """Open a temporary file beside ``path``; on success rename it over ``path`` (atomic on POSIX)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, mode) as f:
            yield f
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | os.PathLike, data: dict) -> None:
    text = json.dumps(data, indent=2) + "\n"  # serialise first: a value that cannot be written fails before any I/O
    with atomic_file(path) as f:
        f.write(text)
