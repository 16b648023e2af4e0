"""Files -> raw rows. Every row remembers where it came from, so every later error can name file:line.

Reads JSONL, JSON (a list of objects), CSV/TSV, Parquet, plain text (one document per line),
gzip of any of those, a directory written by `datasets.save_to_disk` (Arrow files, read with
pyarrow, no `datasets` needed), and a directory of such files.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignkit.errors import UserError

SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet", ".txt")
ASSETS = Path(__file__).resolve().parent.parent / "assets"


@dataclass(frozen=True)
class Row:
    """One record as read: its fields and its origin (`path:line` or `path:row N`)."""

    fields: dict[str, Any]
    source: str


def resolve_path(path: str | Path, demo: str | None = None) -> Path:
    """'demo' names an embedded asset; anything else must exist."""
    if str(path) == "demo" and demo is not None:
        return ASSETS / demo
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise UserError(f"{path}: no such file or directory")
    return resolved


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return suffix
    raise UserError(f"{path}: unsupported file type; expected one of {', '.join(SUFFIXES)} (optionally .gz)")


def _open_text(path: Path) -> io.TextIOBase:
    try:
        if path.name.lower().endswith(".gz"):
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
        return open(path, encoding="utf-8", newline="")
    except OSError as exc:
        raise UserError(f"{path}: cannot open ({exc.strerror or exc})") from None


def _read_jsonl(path: Path) -> Iterator[Row]:
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(record, dict):
                raise UserError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
            yield Row(record, f"{path}:{number}")


def _read_json(path: Path) -> Iterator[Row]:
    with _open_text(path) as handle:
        text = handle.read()
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # JSON Lines under a .json name
            yield from _read_jsonl(path)
            return
        raise UserError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if isinstance(records, dict):
        records = [records]
    if not isinstance(records, list):
        raise UserError(f"{path}: expected a JSON list of objects, got {type(records).__name__}")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise UserError(f"{path}: row {index + 1}: expected a JSON object, got {type(record).__name__}")
        yield Row(record, f"{path}: row {index + 1}")


def _read_csv(path: Path, delimiter: str) -> Iterator[Row]:
    with _open_text(path) as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        if not reader.fieldnames:
            return
        for record in reader:
            if None in record:
                raise UserError(f"{path}:{reader.line_num}: more fields than the header has ({reader.fieldnames})")
            yield Row(dict(record), f"{path}:{reader.line_num}")


def _read_txt(path: Path) -> Iterator[Row]:
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield Row({"text": line}, f"{path}:{number}")


def _read_parquet(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise UserError(f"{path}: not a readable Parquet file ({exc})") from None
    for index, record in enumerate(table.to_pylist()):
        yield Row(record, f"{path}: row {index + 1}")


def _read_arrow_dataset(directory: Path) -> Iterator[Row]:
    """A `datasets.save_to_disk` directory: state.json lists Arrow stream files."""
    import pyarrow as pa

    if (directory / "dataset_dict.json").is_file():
        splits = json.loads((directory / "dataset_dict.json").read_text())["splits"]
        split = "train" if "train" in splits else splits[0]
        yield from _read_arrow_dataset(directory / split)
        return
    state = json.loads((directory / "state.json").read_text())
    offset = 0
    for entry in state["_data_files"]:
        file = directory / entry["filename"]
        try:
            with pa.memory_map(str(file)) as source:
                table = pa.ipc.open_stream(source).read_all()
        except Exception as exc:
            raise UserError(f"{file}: not a readable Arrow file ({exc})") from None
        for index, record in enumerate(table.to_pylist()):
            yield Row(record, f"{file}: row {offset + index + 1}")
        offset += table.num_rows


def _files_in(directory: Path) -> list[Path]:
    files = []
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(directory).parts):
            try:
                _kind(path)
            except UserError:
                continue
            files.append(path)
    return files


def iter_rows(path: str | Path) -> Iterator[Row]:
    """Rows of a file or directory, in a fixed order."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    if path.is_dir():
        if (path / "state.json").is_file() or (path / "dataset_dict.json").is_file():
            yield from _read_arrow_dataset(path)
            return
        files = _files_in(path)
        if not files:
            raise UserError(f"{path}: directory holds no data files ({', '.join(SUFFIXES)})")
        for file in files:
            yield from iter_rows(file)
        return
    kind = _kind(path)
    if kind in (".jsonl", ".ndjson"):
        yield from _read_jsonl(path)
    elif kind == ".json":
        yield from _read_json(path)
    elif kind in (".csv", ".tsv"):
        yield from _read_csv(path, "\t" if kind == ".tsv" else ",")
    elif kind == ".parquet":
        yield from _read_parquet(path)
    else:
        yield from _read_txt(path)


def read_rows(path: str | Path) -> list[Row]:
    """All rows; an empty source is an error, since training on nothing is never intended."""
    try:
        rows = list(iter_rows(path))
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (EOFError, gzip.BadGzipFile) as exc:
        raise UserError(f"{path}: damaged gzip file ({exc})") from None
    if not rows:
        raise UserError(f"{path}: no rows (the file is empty)")
    return rows


def split_held_out(items: list, eval_fraction: float, seed: int) -> tuple[list, list]:
    """(training, held-out): a seeded sample of whole items (documents, conversations, rows) held
    out, at least one and never all of them; nothing held out when the fraction is 0."""
    if eval_fraction <= 0 or len(items) < 2:
        return items, []
    count = min(max(1, round(len(items) * eval_fraction)), len(items) - 1)
    held = set(random.Random(seed).sample(range(len(items)), count))
    return [x for i, x in enumerate(items) if i not in held], [x for i, x in enumerate(items) if i in held]


def train_and_held_out(read, data, seed: int) -> tuple[list, list]:
    """(training, held-out) items: `read(data.path)`, with `read(data.eval_path)` held out when the
    config names one, else a seeded split_held_out of data.eval_fraction."""
    items = read(data.path)
    if data.eval_path:
        return items, read(data.eval_path)
    return split_held_out(items, data.eval_fraction, seed)


def write_jsonl(path: str | Path, records: list[dict]) -> None:
    """JSONL, written to a temp file and renamed, so a killed run leaves no half file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, target)
