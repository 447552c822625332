"""Writing results so that a crash or a kill at any moment leaves either the old file or the new one, whole."""

import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to (for writers that take a path); on success it is renamed over
    ``path`` (atomic on POSIX), on failure removed."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success rename it over ``path``."""
    with atomic_path(path) as tmp, open(tmp, mode) as f:
        yield f


def write_json(path: str | os.PathLike, data: dict) -> None:
    """Strict JSON, which any parser reads: a NaN or an infinity (a collapsed generator's skew) is written as null."""
    # Serialised first: a value that cannot be written fails before any I/O.
    text = json.dumps(_finite(data), indent=2, allow_nan=False) + "\n"
    with atomic_file(path) as f:
        f.write(text)


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
