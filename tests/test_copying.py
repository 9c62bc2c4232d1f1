"""Dataset copies: hard links when possible, plain copies otherwise, nothing left behind on failure."""

from __future__ import annotations

import os

import pytest

from pdxsrv.datasets.copying import copy_dataset


def make_tree(root) -> list[str]:
    files = ["a/1.jpg", "a/deep/2.jpg", "b/with space.png", "labels.txt"]
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rel.encode())
    return files


def test_same_file_system_uses_hard_links(tmp_path) -> None:
    files = make_tree(tmp_path / "src")
    seen = []
    assert copy_dataset(str(tmp_path / "src"), str(tmp_path / "ws" / "D0001"), files, lambda d, t: seen.append((d, t))) == "hardlink"
    for rel in files:
        assert os.stat(tmp_path / "src" / rel).st_ino == os.stat(tmp_path / "ws" / "D0001" / rel).st_ino
    assert seen[-1] == (4, 4)


def test_copies_when_asked_and_the_bytes_match(tmp_path) -> None:
    files = make_tree(tmp_path / "src")
    assert copy_dataset(str(tmp_path / "src"), str(tmp_path / "D0001"), files, link=False) == "copy"
    for rel in files:
        assert (tmp_path / "D0001" / rel).read_bytes() == rel.encode()
        assert os.stat(tmp_path / "src" / rel).st_ino != os.stat(tmp_path / "D0001" / rel).st_ino


def test_a_failure_leaves_nothing_behind(tmp_path) -> None:
    files = make_tree(tmp_path / "src") + ["missing.jpg"]
    with pytest.raises(FileNotFoundError):
        copy_dataset(str(tmp_path / "src"), str(tmp_path / "D0001"), files, link=False)
    assert sorted(os.listdir(tmp_path)) == ["src"]
