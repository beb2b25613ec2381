"""Per-file values from a CSV: class labels (AffectNet-style folders) and subject groups.

Seed 003's folders keep images flat and their labels in a CSV (``label,filename``). A file name
is a path relative to the image root (or absolute); when no such file exists, a name that
matches exactly one image's base name anywhere below the root is accepted, since such CSVs
often list bare names.
"""

from __future__ import annotations

import csv
from pathlib import Path

from augplat.errors import DataError


def read_columns(path: Path, columns: list[str]) -> list[list[str]]:
    """Rows of ``columns`` (stripped strings) from a CSV with a header line.

    Raises:
        DataError: Missing file, no header, or a missing column (naming the columns found).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in columns if c not in header]
            if missing:
                found = ", ".join(header) or "no header"
                raise DataError(f"{path}: no column {missing[0]!r} (columns: {found})")
            rows = []
            for row in reader:
                clean = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
                if any(clean.values()):
                    rows.append([clean[c] for c in columns])
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: unreadable CSV ({exc})") from None


class FileFinder:
    """Resolve CSV file names against an image root (relative path, absolute, or base name)."""

    def __init__(self, root: Path, images: list[Path]):
        self.root = root
        self._by_name: dict[str, list[Path]] = {}
        for image in images:
            self._by_name.setdefault(image.name, []).append(image)

    def find(self, name: str) -> Path | None:
        """The image ``name`` refers to, or None when there is none or it is ambiguous."""
        candidate = Path(name).expanduser()
        candidate = candidate if candidate.is_absolute() else self.root / candidate
        if candidate.is_file():
            return candidate
        matches = self._by_name.get(Path(name).name, [])
        return matches[0] if len(matches) == 1 else None


def labelled_files(
    csv_path: Path, root: Path, images: list[Path], label_col: str, filename_col: str
) -> tuple[list[tuple[str, Path]], list[str]]:
    """``([(class, file), ...], problems)`` from a label CSV; a problem names the CSV row."""
    finder = FileFinder(root, images)
    items, problems = [], []
    for line, (label, name) in enumerate(read_columns(csv_path, [label_col, filename_col]), 2):
        path = finder.find(name) if name else None
        if not label or path is None:
            what = "no label" if not label else f"file {name!r} not found under {root}"
            problems.append(f"{csv_path}:{line}: {what}")
            continue
        items.append((label, path))
    return items, problems


def groups_from_csv(
    csv_path: Path, root: Path, files: list[Path], filename_col: str, group_col: str
) -> list[str]:
    """The group of every file in ``files`` from a ``filename,group`` CSV.

    Raises:
        DataError: A file with no group in the CSV (naming it).
    """
    finder = FileFinder(root, files)
    by_path = {}
    for name, group in read_columns(csv_path, [filename_col, group_col]):
        path = finder.find(name)
        if path is not None and group:
            by_path[path.resolve()] = group
    out = []
    for path in files:
        group = by_path.get(path.resolve())
        if group is None:
            raise DataError(f"{path}: no group in {csv_path} (column {group_col!r})")
        out.append(group)
    return out
