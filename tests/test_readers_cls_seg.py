"""Classification, segmentation and remote-sensing readers: synthetic corpora accepted, broken ones refused clearly."""

from __future__ import annotations

import os
import pickle
import posixpath
import re
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest

from pdxsrv.datasets import classification, remote, segmentation
from pdxsrv.datasets.scan import DatasetError, Scan
from pdxsrv.datasets.synthetic import Manifest, make

N = 12


def scan_kind(kind: str) -> Callable[..., Scan]:
    """The reader of a dataset kind."""
    return {"classification": classification.scan, "segmentation": segmentation.scan,
            "remote_segmentation": remote.scan}[kind]


def refused(reader: Callable[..., Scan], root: Path, *fragments: str) -> str:
    """Scan `root`, expect a DatasetError whose message holds every fragment, and return the message."""
    with pytest.raises(DatasetError) as info:
        reader(str(root))
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def check_split(scan: Scan, man: Manifest) -> None:
    """Pre-split lists are read back as written (an empty test list may be absent)."""
    assert scan.split is not None
    for part in ("train", "val", "test"):
        assert sorted(scan.split[part]) == sorted(man.split.get(part, [])), part
    for name in ("train_list.txt", "val_list.txt"):
        assert name in scan.files


@pytest.mark.parametrize("presplit", [False, True])
@pytest.mark.parametrize("fmt", ["folders", "digits"])
def test_classification_accepted(tmp_path: Path, fmt: str, presplit: bool) -> None:
    man = make("classification", tmp_path, fmt=fmt, images=N, presplit=presplit)
    calls: list[tuple[int, int]] = []
    scan = classification.scan(str(tmp_path), lambda done, total: calls.append((done, total)))
    assert scan.type == "classification"
    assert scan.labels == man.labels
    assert scan.file_info == man.annotations
    assert {label: len(images) for label, images in scan.label_info.items()} == man.per_class
    assert set(man.images) <= set(scan.files)
    assert scan.image_stats["count"] == N and scan.image_stats["max_width"] == 64
    assert calls[-1] == (N, N)
    if presplit:
        check_split(scan, man)
        assert "labels.txt" in scan.files
    else:
        assert scan.split is None


def test_classification_tricky_accepts_what_the_original_rejected(tmp_path: Path) -> None:
    man = make("classification", tmp_path, fmt="folders_tricky", images=N)
    refused(classification.scan, tmp_path, "stray.jpg", "class folder")
    (tmp_path / "stray.jpg").unlink()
    scan = classification.scan(str(tmp_path))
    rejected = [rel for rel in man.skipped if rel != "stray.jpg"]
    assert rejected and any("/nested/" in rel for rel in rejected) and any(rel.endswith(".Jpg") for rel in rejected)
    expected = {**man.annotations, **{rel: rel.split("/")[0] for rel in rejected}}
    assert scan.file_info == expected
    assert any(" " in rel for rel in scan.file_info)
    assert scan.labels == man.labels


@pytest.mark.parametrize("presplit", [False, True])
@pytest.mark.parametrize("fmt", ["png", "png_nolabels"])
def test_segmentation_accepted(tmp_path: Path, fmt: str, presplit: bool) -> None:
    man = make("segmentation", tmp_path, fmt=fmt, images=N, presplit=presplit)
    scan = segmentation.scan(str(tmp_path))
    assert scan.type == "segmentation"
    assert scan.labels == man.labels
    assert scan.file_info == man.annotations
    assert {label: len(images) for label, images in scan.label_info.items()} == man.per_class
    assert set(man.images) | set(man.annotations.values()) <= set(scan.files)
    assert ("labels.txt" in scan.files) == (fmt == "png")
    if presplit:
        check_split(scan, man)


def test_segmentation_tricky_accepts_everything(tmp_path: Path) -> None:
    man = make("segmentation", tmp_path, fmt="png_tricky", images=N)
    scan = segmentation.scan(str(tmp_path))
    assert man.skipped
    expected = dict(man.annotations)
    for rel in man.skipped:
        expected[rel] = "Annotations/" + posixpath.splitext(posixpath.basename(rel))[0] + ".png"
    assert scan.file_info == expected
    assert any(" " in rel for rel in scan.file_info)
    for label, images in scan.label_info.items():
        assert len([rel for rel in images if rel in man.annotations]) == man.per_class[label]


def test_segmentation_nested_directories(tmp_path: Path) -> None:
    make("segmentation", tmp_path, fmt="png", images=4)
    for top in ("JPEGImages", "Annotations"):
        (tmp_path / top / "a b" / "deep").mkdir(parents=True)
    (tmp_path / "JPEGImages/img_0001.jpg").rename(tmp_path / "JPEGImages/a b/deep/img_0001.JPG")
    (tmp_path / "Annotations/img_0001.png").rename(tmp_path / "Annotations/a b/deep/img_0001.png")
    scan = segmentation.scan(str(tmp_path))
    assert scan.file_info["JPEGImages/a b/deep/img_0001.JPG"] == "Annotations/a b/deep/img_0001.png"


@pytest.mark.parametrize("presplit", [False, True])
@pytest.mark.parametrize("fmt,bands", [("tif", 4), ("tif", 1), ("npy", 6)])
def test_remote_accepted(tmp_path: Path, fmt: str, bands: int, presplit: bool) -> None:
    man = make("remote_segmentation", tmp_path, fmt=fmt, images=N, bands=bands, presplit=presplit)
    scan = remote.scan(str(tmp_path))
    assert scan.type == "remote_segmentation"
    assert scan.bands == man.bands == bands
    assert scan.labels == man.labels
    assert scan.file_info == man.annotations
    assert {label: len(images) for label, images in scan.label_info.items()} == man.per_class
    if presplit:
        check_split(scan, man)


def test_remote_bands_first_npy(tmp_path: Path) -> None:
    make("remote_segmentation", tmp_path, fmt="npy", images=3, bands=5)
    for path in (tmp_path / "JPEGImages").iterdir():
        np.save(path, np.load(path).transpose(2, 0, 1), allow_pickle=False)
    assert remote.scan(str(tmp_path)).bands == 5


# ---- broken corpora -------------------------------------------------------------------------------------------


def seg(tmp_path: Path, fmt: str = "png", presplit: bool = False) -> Path:
    """A small segmentation dataset."""
    make("segmentation", tmp_path, fmt=fmt, images=6, presplit=presplit)
    return tmp_path


def write_png(path: Path, array: np.ndarray) -> None:
    """Write a PNG (works with any path)."""
    path.write_bytes(cv2.imencode(".png", array)[1].tobytes())


def test_missing_annotation(tmp_path: Path) -> None:
    (seg(tmp_path) / "Annotations/img_0003.png").unlink()
    refused(segmentation.scan, tmp_path, "JPEGImages/img_0003.jpg", "Annotations/img_0003.png is missing")


def test_label_value_out_of_range(tmp_path: Path) -> None:
    mask = np.zeros((64, 64), np.uint8)
    mask[5, 5] = 9
    write_png(seg(tmp_path) / "Annotations/img_0002.png", mask)
    refused(segmentation.scan, tmp_path, "Annotations/img_0002.png: pixel value 9", "labels.txt lists 4 classes")


def test_mask_size_mismatch(tmp_path: Path) -> None:
    write_png(seg(tmp_path) / "Annotations/img_0002.png", np.zeros((48, 64), np.uint8))
    message = refused(segmentation.scan, tmp_path)
    assert message == "Annotations/img_0002.png: size 64x48 differs from its image JPEGImages/img_0002.jpg (64x64)"


def test_rgb_label_png(tmp_path: Path) -> None:
    write_png(seg(tmp_path) / "Annotations/img_0001.png", np.zeros((64, 64, 3), np.uint8))
    refused(segmentation.scan, tmp_path, "Annotations/img_0001.png", "3 channel", "single-channel")


def test_segmentation_missing_directory(tmp_path: Path) -> None:
    refused(segmentation.scan, tmp_path, "JPEGImages/: is missing")
    (tmp_path / "JPEGImages").mkdir()
    (tmp_path / "annotations").mkdir()
    refused(segmentation.scan, tmp_path, "Annotations/: is missing", "found annotations/")


def test_segmentation_list_points_at_missing_file(tmp_path: Path) -> None:
    seg(tmp_path, presplit=True)
    (tmp_path / "val_list.txt").write_text("JPEGImages/img_0000.jpg Annotations/nope.png\n")
    refused(segmentation.scan, tmp_path, "val_list.txt:1:", "Annotations/nope.png does not exist")


def test_segmentation_presplit_needs_val_list(tmp_path: Path) -> None:
    (seg(tmp_path, presplit=True) / "val_list.txt").unlink()
    refused(segmentation.scan, tmp_path, "val_list.txt: is missing")


def cls(tmp_path: Path, presplit: bool = False) -> Path:
    """A small classification dataset."""
    make("classification", tmp_path, images=6, presplit=presplit)
    return tmp_path


def test_one_class_only(tmp_path: Path) -> None:
    cls(tmp_path)
    for name in ("square", "triangle"):
        for path in (tmp_path / name).iterdir():
            path.unlink()
        (tmp_path / name).rmdir()
    refused(classification.scan, tmp_path, "only one class folder", "'circle'", "at least 2 classes")


def test_empty_directory(tmp_path: Path) -> None:
    refused(classification.scan, tmp_path, "contains no images")


def test_wrong_column_count(tmp_path: Path) -> None:
    lines = (cls(tmp_path, presplit=True) / "train_list.txt").read_text().splitlines()
    lines.insert(1, "circle/my img.jpg 0")
    (tmp_path / "train_list.txt").write_text("\n".join(lines) + "\n")
    refused(classification.scan, tmp_path, "train_list.txt:2:", "3 columns, expected 2")


def test_list_label_index_out_of_range(tmp_path: Path) -> None:
    first = (cls(tmp_path, presplit=True) / "val_list.txt").read_text().split()[0]
    (tmp_path / "val_list.txt").write_text(f"{first} 7\n")
    refused(classification.scan, tmp_path, "val_list.txt:1:", "label index 7 is out of range", "0..2")


def test_classification_list_points_at_missing_file(tmp_path: Path) -> None:
    (cls(tmp_path, presplit=True) / "val_list.txt").write_text("circle/img_0000.jpg 0\ncircle/gone.jpg 0\n")
    refused(classification.scan, tmp_path, "val_list.txt:2:", "circle/gone.jpg does not exist")


def test_classification_presplit_needs_labels(tmp_path: Path) -> None:
    (cls(tmp_path, presplit=True) / "labels.txt").unlink()
    refused(classification.scan, tmp_path, "labels.txt: is missing")


def test_corrupt_image(tmp_path: Path) -> None:
    path = cls(tmp_path) / "square/img_0001.jpg"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    refused(classification.scan, tmp_path, "square/img_0001.jpg: is not a readable image", "truncated")


def test_symlink_loop(tmp_path: Path) -> None:
    os.symlink("..", cls(tmp_path) / "circle" / "loop")
    refused(classification.scan, tmp_path, "circle/loop", "loop")


def test_symlink_pointing_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside.jpg"
    root = cls(tmp_path / "data")
    outside.write_bytes((root / "circle/img_0000.jpg").read_bytes())
    os.symlink(outside, root / "circle" / "link.jpg")
    refused(classification.scan, root, "circle/link.jpg", "points outside the dataset")


def test_band_count_mismatch(tmp_path: Path) -> None:
    make("remote_segmentation", tmp_path, fmt="npy", images=4, bands=4)
    np.save(tmp_path / "JPEGImages/img_0002.npy", np.zeros((64, 64, 3), np.float32), allow_pickle=False)
    refused(remote.scan, tmp_path, "JPEGImages/img_0002.npy: has 3 band(s) but JPEGImages/img_0000.npy has 4")


def test_remote_label_size_must_match(tmp_path: Path) -> None:
    make("remote_segmentation", tmp_path, fmt="tif", images=3, bands=3)
    write_png(tmp_path / "Annotations/img_0001.png", np.zeros((64, 60), np.uint8))
    message = refused(remote.scan, tmp_path)
    assert message == "Annotations/img_0001.png: size 60x64 differs from its image JPEGImages/img_0001.tif (64x64)"


class Trap:
    """Unpickling this would create a file: proof that nothing is unpickled."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str, str]]:
        return open, (self.marker, "w")


@pytest.mark.parametrize("raw", [False, True])
def test_pickled_npy_refused(tmp_path: Path, raw: bool) -> None:
    root = tmp_path / "data"
    make("remote_segmentation", root, fmt="npy", images=3, bands=2)
    marker = tmp_path / "unpickled"
    target = root / "JPEGImages/img_0001.npy"
    if raw:
        target.write_bytes(pickle.dumps(Trap(str(marker))))
    else:
        np.save(target, np.array([Trap(str(marker))], dtype=object), allow_pickle=True)
    message = refused(remote.scan, root, "JPEGImages/img_0001.npy")
    assert re.search("pickle|not a readable", message)
    assert not marker.exists()


def test_labels_txt_duplicate_and_spaces(tmp_path: Path) -> None:
    cls(tmp_path, presplit=True)
    (tmp_path / "labels.txt").write_text("circle\n\nsquare one\ncircle\n")
    refused(classification.scan, tmp_path, "labels.txt:4:", "'circle' is listed twice (first on line 1)")
    (tmp_path / "labels.txt").write_text("circle\nsquare one\ntriangle\n")
    assert classification.scan(str(tmp_path)).labels == ["circle", "square one", "triangle"]


def test_list_path_escaping_root(tmp_path: Path) -> None:
    (cls(tmp_path, presplit=True) / "val_list.txt").write_text("../outside.jpg 0\n")
    refused(classification.scan, tmp_path, "val_list.txt:1:", "stay inside it")
