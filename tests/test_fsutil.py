"""Atomic writes leave the old content or the new, never a half-written file or temp litter."""

from __future__ import annotations

import pytest

from augplat.runtime.fsutil import atomic_dir, atomic_path, file_sha256, write_text


def test_atomic_path_failure_keeps_old_content(tmp_path):
    target = tmp_path / "f.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_atomic_dir_replaces_whole_directory(tmp_path):
    target = tmp_path / "ds"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    with atomic_dir(target, overwrite=True) as tmp:
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_atomic_dir_failure_leaves_nothing(tmp_path):
    with pytest.raises(ValueError), atomic_dir(tmp_path / "ds") as tmp:
        (tmp / "a").write_text("1")
        raise ValueError("bad row")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_refuses_existing_without_overwrite(tmp_path):
    (tmp_path / "ds").mkdir()
    with pytest.raises(FileExistsError), atomic_dir(tmp_path / "ds"):
        pass


def test_file_sha256_matches_hashlib(tmp_path):
    import hashlib

    path = tmp_path / "blob"
    path.write_bytes(b"x" * 10_000_001)
    assert file_sha256(path, chunk_size=1 << 20) == hashlib.sha256(path.read_bytes()).hexdigest()
