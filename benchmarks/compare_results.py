"""Compare two results/ trees file by file: are two runs (two checkouts, two machines) the same?

Every file present in either tree is classified:

- ``bytes``: identical bytes (SHA-256);
- ``content``: differs only in timing fields: a CSV, JSON, HTML table or HDF5 file equal once
  the columns, keys or datasets that measure time or date the file (``seconds``, ``time``,
  ``wall``, ``per_second``, ``elapsed``, ``created``, ``_s`` suffixes) are dropped, or a PyTorch
  checkpoint whose tensors are identical;
- ``different`` (with the first difference) or ``only in A`` / ``only in B``.

Timing fields differ between any two runs; everything else (structures, η, splits, weights,
posteriors, θ̂, validation tables) must be identical for a run to count as reproduced.

Usage: python benchmarks/compare_results.py RESULTS_A RESULTS_B [--json OUT.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import torch

TIMING = re.compile(r"(seconds|time|wall|per_second|_s$|elapsed|created)", re.IGNORECASE)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _drop_timing(value: Any) -> Any:
    """A JSON value without the keys that measure time (recursively)."""
    if isinstance(value, dict):
        return {k: _drop_timing(v) for k, v in value.items() if not TIMING.search(k)}
    if isinstance(value, list):
        return [_drop_timing(v) for v in value]
    return value


def _csv_difference(a: Path, b: Path) -> str | None:
    """None if the CSVs agree on every non-timing column, else the first difference."""
    left, right = pd.read_csv(a), pd.read_csv(b)
    keep = [c for c in left.columns if not TIMING.search(c)]
    if keep != [c for c in right.columns if not TIMING.search(c)]:
        return "columns differ"
    if left[keep].equals(right[keep]):
        return None
    if len(left) != len(right):
        return f"{len(left)} rows vs {len(right)}"
    unequal = (left[keep] != right[keep]) & ~(left[keep].isna() & right[keep].isna())
    column = next(c for c in keep if unequal[c].any())
    row = int(unequal[column].to_numpy().nonzero()[0][0])
    return f"{column} row {row}: {left[column].iloc[row]!r} vs {right[column].iloc[row]!r}"


def _flat_difference(
    left: dict[str, Any], right: dict[str, Any], equal: Callable[[Any, Any], bool], what: str
) -> str | None:
    """None if two name → value maps have the same names and equal values, else the first
    difference (``what`` names the kind of entry: tensor, dataset)."""
    if left.keys() != right.keys():
        return f"{what} names differ"
    for name, value in left.items():
        if not equal(value, right[name]):
            return f"{what} {name} differs"
    return None


def _checkpoint_difference(a: Path, b: Path) -> str | None:
    """None if every tensor of the two checkpoints is identical (other entries ignored)."""

    def tensors(path: Path) -> dict[str, torch.Tensor]:
        state = torch.load(path, map_location="cpu", weights_only=False)
        flat: dict[str, torch.Tensor] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, torch.Tensor):
                flat[prefix] = value
            elif isinstance(value, dict):
                for key, item in value.items():
                    walk(f"{prefix}/{key}", item)

        walk("", state)
        return flat

    return _flat_difference(tensors(a), tensors(b), torch.equal, "tensor")


class _Page(HTMLParser):
    """An HTML page split into its tables (one list of cell texts per row, header rows too)
    and everything else (tags with their attributes and text outside table cells, in order)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.rest: list[Any] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables and self.tables[-1]:
            self._cell = []
            return
        if self._cell is None:
            self.rest.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif self._cell is None:
            self.rest.append(f"/{tag}")

    def handle_data(self, data: str) -> None:
        (self.rest if self._cell is None else self._cell).append(data)


def _html_difference(a: Path, b: Path) -> str | None:
    """None if two pages are the same but for their tables' timing columns (by header)."""

    def page(path: Path) -> tuple[list[Any], list[list[list[str]]]]:
        parser = _Page()
        parser.feed(path.read_text())
        tables = []
        for rows in parser.tables:
            header = rows[0] if rows else []
            keep = [j for j, name in enumerate(header) if not TIMING.search(name)]
            tables.append([[row[j] for j in keep if j < len(row)] for row in rows])
        return parser.rest, tables

    (rest_a, tables_a), (rest_b, tables_b) = page(a), page(b)
    if rest_a != rest_b:
        return "page outside its tables differs"
    return None if tables_a == tables_b else "table cells differ"


def _hdf5_difference(a: Path, b: Path) -> str | None:
    """None if every non-timing dataset and attribute of the two HDF5 files is identical."""

    def items(path: Path) -> dict[str, np.ndarray]:
        flat: dict[str, np.ndarray] = {}
        with h5py.File(path, "r") as handle:

            def visit(name: str, node: Any) -> None:
                if not TIMING.search(name.rsplit("/", 1)[-1]):
                    if isinstance(node, h5py.Dataset):
                        flat[name] = node[()]
                    for key, value in node.attrs.items():
                        if not TIMING.search(key):
                            flat[f"{name}@{key}"] = np.asarray(value)

            visit("/", handle)
            handle.visititems(visit)
        return flat

    return _flat_difference(items(a), items(b), np.array_equal, "dataset")


def compare_file(a: Path, b: Path) -> tuple[str, str | None]:
    """(kind, detail) for one file present in both trees."""
    if _sha256(a) == _sha256(b):
        return "bytes", None
    if a.suffix == ".csv":
        detail = _csv_difference(a, b)
    elif a.suffix == ".json":
        same = _drop_timing(json.loads(a.read_text())) == _drop_timing(json.loads(b.read_text()))
        detail = None if same else "non-timing values differ"
    elif a.suffix == ".pt":
        detail = _checkpoint_difference(a, b)
    elif a.suffix == ".html":
        detail = _html_difference(a, b)
    elif a.suffix == ".h5":
        detail = _hdf5_difference(a, b)
    else:
        return "different", "bytes differ"
    return ("content", None) if detail is None else ("different", detail)


def compare_trees(root_a: Path, root_b: Path) -> list[dict[str, Any]]:
    """One row (path, kind, detail) per file of either tree, sorted by path."""
    files_a = {p.relative_to(root_a) for p in root_a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(root_b) for p in root_b.rglob("*") if p.is_file()}
    rows = []
    for rel in sorted(files_a | files_b):
        if rel not in files_b:
            rows.append({"path": str(rel), "kind": "only in A", "detail": None})
        elif rel not in files_a:
            rows.append({"path": str(rel), "kind": "only in B", "detail": None})
        else:
            kind, detail = compare_file(root_a / rel, root_b / rel)
            rows.append({"path": str(rel), "kind": kind, "detail": detail})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--json", type=Path, help="write every row here")
    args = parser.parse_args()
    rows = compare_trees(args.a, args.b)
    for row in rows:
        if row["kind"] not in ("bytes", "content"):
            print(f"{row['kind']:>10}  {row['path']}  {row['detail'] or ''}")
    print(dict(Counter(row["kind"] for row in rows)))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
