"""A CSV report written row by row: each write is flushed, so an interrupted run keeps every
row it finished (eval's results.csv, clicks.csv and objects.csv)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path


class CsvLog:
    def __init__(self, path: Path, header: Sequence[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        self._writer.writerow(header)

    def write_rows(self, rows: Iterable[Sequence[object]]) -> None:
        self._writer.writerows(rows)
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
