"""Reading a 1-D sample from a user's file: one column of a .npy array or of a delimited text file.

Text files are read with the csv module, not numpy's loaders, so that a bad cell is reported with its line and
column: a header is detected (a first row without a single number), the delimiter sniffed (tab, semicolon, comma,
else whitespace). Empty cells and NA, N/A, NaN, null or None are missing values, handled like Inf by ``nonfinite``.
"""

import csv
import hashlib
import io
import logging
import math
import os
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np

log = logging.getLogger(__name__)

TEXT, ARRAY = (".csv", ".tsv", ".txt"), (".npy",)
MISSING = {"", "na", "n/a", "nan", "null", "none"}
NONFINITE = ("drop", "refuse")
DELIMITERS = ("\t", ";", ",")  # in this order: a semicolon file may use the comma as its decimal mark
SNIFF_LINES = 20


class DataError(ValueError):
    """A data file that cannot be learned from; one line naming the file (``target.path=FILE: ...``) and the
    problem, which gan1d.train reports as it is."""


class Column(NamedTuple):
    values: np.ndarray  # float64, the missing and non-finite ones left out
    rows: int  # values read, before leaving any out
    sha256: str  # of the file's bytes, as read


def read_column(path: str | os.PathLike, column: str | int | None = None, nonfinite: str = "drop") -> np.ndarray:
    """The chosen column of ``path`` as float64 values (see ``read``)."""
    return read(path, column, nonfinite).values


def read(path: str | os.PathLike, column: str | int | None = None, nonfinite: str = "drop") -> Column:
    """The chosen column of ``path``, missing and non-finite values left out (``nonfinite="drop"``, with a count in
    the log) or refused (``"refuse"``), with the count read and the file's sha256. The arguments are the ones
    Empirical has checked: a path, a column name, index or None, one of NONFINITE."""
    path = Path(path).expanduser()
    where = f"target.path={path}"
    if path.suffix.lower() not in TEXT + ARRAY:
        raise DataError(f"{where}: unknown file type {path.suffix!r}: it must end in one of {list(ARRAY + TEXT)}")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{where}: is a directory, not a data file") from None
    except OSError as err:
        raise DataError(f"{where}: cannot be read ({err.strerror})") from None
    if not raw.strip():
        raise DataError(f"{where}: the file is empty")
    if path.suffix.lower() in ARRAY:
        values, positions = _array_column(raw, column, where), "index"
    else:
        values, positions = _text_column(raw, column, where), "line"
    return Column(_finite(values, nonfinite, where, positions), len(values[0]), hashlib.sha256(raw).hexdigest())


def _array_column(raw: bytes, column, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        array = np.load(io.BytesIO(raw), allow_pickle=False)  # no pickles: a data file cannot run code
    except (ValueError, OSError, EOFError) as err:
        raise DataError(f"{where}: not a readable .npy array ({str(err).splitlines()[0]})") from None
    if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.number):
        raise DataError(f"{where}: the array holds {getattr(array, 'dtype', type(array).__name__)} values, "
                        "not numbers")
    if array.ndim == 2 and array.shape[1] == 1 and column is None:
        array = array[:, 0]
    if array.ndim == 1:
        if column is not None:
            raise DataError(f"{where}: the array is 1-D, so there is no column to pick: leave target.column out")
        values = array
    elif array.ndim == 2:
        k = array.shape[1]
        if column is None:
            raise DataError(f"{where}: a 2-D array of {k} columns: pick one with target.column=INDEX (0 to {k - 1})")
        if not isinstance(column, int):
            raise DataError(f"{where}: a .npy array has no column names: give target.column as an index, 0 to "
                            f"{k - 1}, not {column!r}")
        values = array[:, _index(column, k, where)]
    else:
        raise DataError(f"{where}: the array has shape {array.shape}: it must be 1-D, or 2-D with target.column")
    values = values.astype(np.float64)
    return values, np.arange(len(values))


def _text_column(raw: bytes, column, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{where}: not a UTF-8 text file (byte {err.start})") from None
    rows = [(n, cells) for n, cells in _rows(text) if any(c.strip() for c in cells)]
    if not rows:
        raise DataError(f"{where}: the file holds no values")
    header = [c.strip() for c in rows[0][1]] if _is_header(rows[0][1]) else None
    body = rows[1:] if header is not None else rows
    width = len(rows[0][1])
    index = _pick(column, header, width, where)
    name = f"column {header[index]!r}" if header is not None else f"column {index}"
    values, lines = np.empty(len(body)), np.empty(len(body), dtype=np.int64)
    for i, (line, cells) in enumerate(body):
        if len(cells) != width:
            raise DataError(f"{where}: line {line} has {len(cells)} fields where the first row has {width}")
        values[i], lines[i] = _number(cells[index], f"{where}: line {line}, {name}"), line
    return values, lines


def _rows(text: str):
    """(line number, cells) of every row, split on the sniffed delimiter."""
    lines = text.splitlines()
    sample = [s for s in lines[:SNIFF_LINES] if s.strip()]
    for delimiter in DELIMITERS:  # the first that splits most sampled lines into the same number (> 1) of fields
        widths = Counter(len(cells) for cells in csv.reader(sample, delimiter=delimiter))
        if widths.most_common(1)[0][0] > 1:
            reader = csv.reader(io.StringIO(text), delimiter=delimiter)
            return [(reader.line_num, cells) for cells in reader]
    return [(n, s.split()) for n, s in enumerate(lines, 1)]


def _is_header(cells: list[str]) -> bool:
    """A first row with no number in it, and not only missing values, is a header."""
    cells = [c.strip() for c in cells]
    return not any(_parses(c) for c in cells) and any(c.lower() not in MISSING for c in cells)


def _parses(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _pick(column, header: list[str] | None, width: int, where: str) -> int:
    names = f" ({', '.join(header)})" if header is not None else ""
    if column is None:
        if width == 1:
            return 0
        raise DataError(f"{where}: {width} columns{names}: pick one with target.column=NAME or target.column=INDEX")
    if isinstance(column, int):
        return _index(column, width, where)
    if header is None:
        raise DataError(f"{where}: no header row to find column {column!r} in: give target.column as an index, 0 "
                        f"to {width - 1}")
    if column not in header:
        raise DataError(f"{where}: no column named {column!r}; the header has {', '.join(header)}")
    return header.index(column)


def _index(column: int, width: int, where: str) -> int:
    if not 0 <= column < width:
        raise DataError(f"{where}: target.column={column} is out of range: there are {width} columns, 0 to "
                        f"{width - 1}")
    return column


def _number(cell: str, where: str) -> float:
    cell = cell.strip()
    if cell.lower() in MISSING:
        return math.nan
    try:
        return float(cell)
    except ValueError:
        raise DataError(f"{where}: {cell!r} is not a number") from None


def _finite(data: tuple[np.ndarray, np.ndarray], nonfinite: str, where: str, positions: str) -> np.ndarray:
    values, at = data
    bad = ~np.isfinite(values)
    count = int(bad.sum())
    if count and nonfinite == "refuse":
        raise DataError(f"{where}: {count} of {len(values)} values are missing or not finite (the first at "
                        f"{positions} {at[bad][0]}); target.nonfinite=drop leaves them out")
    if count:
        log.warning("%s: left out %d of %d values that are missing or not finite (target.nonfinite=drop)", where,
                    count, len(values))
    return values[~bad]
