"""Synthetic datasets: every kind x format is re-read from disk and checked against the drawn pixels."""

from __future__ import annotations

import argparse
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from pdxsrv.cli import demo as demo_cmd
from pdxsrv.datasets.synthetic import FORMATS, make

N = 12
SIZE = 64
PIC_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".JPG", ".JPEG", ".PNG", ".BMP"}
ALL = [(kind, fmt) for kind, fmts in FORMATS.items() for fmt in fmts]


def files(root: Path) -> dict[str, bytes]:
    """Every file under root, by relative POSIX path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def read(root: Path, rel: str, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """Decode an image file (works with spaces and any extension)."""
    img = cv2.imdecode(np.frombuffer((root / rel).read_bytes(), np.uint8), flags)
    assert img is not None, rel
    return img


def components(binary: np.ndarray) -> list[tuple[tuple[int, int, int, int], int, np.ndarray]]:
    """8-connected components of a boolean map: (x, y, w, h), area, mask."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    return [(tuple(int(v) for v in stats[k, :4]), int(stats[k, 4]), lab == k) for k in range(1, n)]


def rle_decode(rle: dict) -> np.ndarray:
    """Decode COCO uncompressed RLE (column-major, zero run first)."""
    h, w = rle["size"]
    flat = np.zeros(h * w, bool)
    pos, value = 0, False
    for run in rle["counts"]:
        flat[pos:pos + run] = value
        pos += run
        value = not value
    assert pos == h * w
    return flat.reshape((h, w), order="F")


def poly_decode(seg: list[list[int]], h: int, w: int) -> np.ndarray:
    """Fill COCO polygons the way the generator draws them."""
    canvas = np.zeros((h, w), np.uint8)
    for poly in seg:
        cv2.fillPoly(canvas, [np.array(poly, np.int32).reshape(-1, 1, 2)], 1, lineType=cv2.LINE_8)
    return canvas.astype(bool)


def seg_reference(tmp_path: Path, **kw: object) -> tuple[Path, list[str]]:
    """The segmentation dataset of the same scenes: the reference for boxes and masks."""
    root = tmp_path / "seg_ref"
    make("segmentation", str(root), fmt="png", images=N, size=SIZE, **kw)
    return root, (root / "labels.txt").read_text().splitlines()


@pytest.mark.parametrize("fmt", FORMATS["classification"])
def test_classification_folders(tmp_path: Path, fmt: str) -> None:
    root = tmp_path / "ds"
    man = make("classification", str(root), fmt=fmt, images=N, size=SIZE)
    dirs = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert dirs == man.labels and len(dirs) == 3
    assert dirs == (["0", "1", "2"] if fmt == "digits" else ["circle", "square", "triangle"])
    found = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert found == sorted(man.images) and len(found) == N
    for d in dirs:
        assert len(list((root / d).iterdir())) == N // 3 == man.per_class[d]
    colours: dict[str, list[np.ndarray]] = {d: [] for d in dirs}
    for rel in found:
        img = read(root, rel)
        assert img.shape == (SIZE, SIZE, 3)
        colours[rel.split("/")[0]].append(img.reshape(-1, 3).max(axis=0))
    if fmt == "folders":  # each class has its own saturated colour: the brightest channel values differ per class
        means = [np.mean(colours[d], axis=0) for d in dirs]
        assert min(np.abs(a - b).max() for i, a in enumerate(means) for b in means[i + 1:]) > 60


def test_voc_boxes_match_drawn_shapes(tmp_path: Path) -> None:
    root = tmp_path / "voc"
    make("detection", str(root), fmt="voc", images=N, size=SIZE)
    ref, ref_labels = seg_reference(tmp_path)
    imgs = sorted(p.name for p in (root / "JPEGImages").iterdir())
    xmls = sorted(p.name for p in (root / "Annotations").iterdir())
    assert len(imgs) == N and [Path(x).stem for x in xmls] == [Path(i).stem for i in imgs]
    names: set[str] = set()
    for name in imgs:
        stem = Path(name).stem
        tree = ET.parse(root / "Annotations" / f"{stem}.xml").getroot()
        assert tree.findtext("filename") == name
        assert (int(tree.findtext("size/width")), int(tree.findtext("size/height"))) == (SIZE, SIZE)
        img = read(root, f"JPEGImages/{name}").astype(float)
        seg = read(ref, f"Annotations/{stem}.png", cv2.IMREAD_UNCHANGED)
        inside = np.zeros((SIZE, SIZE), bool)
        boxes: dict[str, set[tuple[int, int, int, int]]] = {}
        for obj in tree.iter("object"):
            label = obj.findtext("name")
            x0, y0, x1, y1 = (int(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax"))
            assert 0 <= x0 <= x1 < SIZE and 0 <= y0 <= y1 < SIZE
            boxes.setdefault(label, set()).add((x0, y0, x1 - x0 + 1, y1 - y0 + 1))
            inside[y0:y1 + 1, x0:x1 + 1] = True
            names.add(label)
        for label, got in boxes.items():
            drawn = {box for box, _, _ in components(seg == ref_labels.index(label))}
            assert got == drawn, (name, label)
        assert np.abs(img[inside].mean(axis=0) - img[~inside].mean(axis=0)).max() > 25
    assert names == {"circle", "square", "triangle"}


@pytest.mark.parametrize("kind,fmt", [("detection", "coco"), ("instance_segmentation", "coco"),
                                      ("instance_segmentation", "coco_rle")])
def test_coco_boxes_and_masks_match_drawn_shapes(tmp_path: Path, kind: str, fmt: str) -> None:
    root = tmp_path / "coco"
    man = make(kind, str(root), fmt=fmt, images=N, size=SIZE)
    ref, ref_labels = seg_reference(tmp_path)
    doc = json.loads((root / "annotations.json").read_text())
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    assert [cats[k] for k in sorted(cats)] == man.labels == ["circle", "square", "triangle"]
    assert sorted(p.name for p in (root / "JPEGImages").iterdir()) == sorted(i["file_name"] for i in doc["images"])
    assert len(doc["images"]) == N and len({a["id"] for a in doc["annotations"]}) == len(doc["annotations"])
    per_class = {name: 0 for name in man.labels}
    for image in doc["images"]:
        assert (image["width"], image["height"]) == (SIZE, SIZE)
        seg = read(ref, f"Annotations/{Path(image['file_name']).stem}.png", cv2.IMREAD_UNCHANGED)
        anns = [a for a in doc["annotations"] if a["image_id"] == image["id"]]
        assert anns
        for cat_id, name in cats.items():
            drawn = components(seg == ref_labels.index(name))
            mine = [a for a in anns if a["category_id"] == cat_id]
            per_class[name] += len(mine)
            assert sorted(tuple(a["bbox"]) for a in mine) == sorted(box for box, _, _ in drawn)
            assert sorted(a["area"] for a in mine) == sorted(area for _, area, _ in drawn)
            union = np.zeros((SIZE, SIZE), bool)
            for a in mine:
                assert a["iscrowd"] == 0
                if kind == "detection":
                    continue
                seg_ann = a["segmentation"]
                mask = rle_decode(seg_ann) if fmt == "coco_rle" else poly_decode(seg_ann, SIZE, SIZE)
                assert int(mask.sum()) == a["area"]
                union |= mask
            if kind != "detection":
                assert np.array_equal(union, seg == ref_labels.index(name))
    assert per_class == man.per_class


def test_polygon_and_rle_decode_to_the_same_pixels(tmp_path: Path) -> None:
    docs = []
    for fmt in FORMATS["instance_segmentation"]:
        make("instance_segmentation", str(tmp_path / fmt), fmt=fmt, images=N, size=SIZE, seed=5)
        docs.append(json.loads((tmp_path / fmt / "annotations.json").read_text()))
    poly, rle = docs
    assert len(poly["annotations"]) == len(rle["annotations"])
    for a, b in zip(poly["annotations"], rle["annotations"]):
        assert a["bbox"] == b["bbox"] and b["segmentation"]["size"] == [SIZE, SIZE]
        assert np.array_equal(poly_decode(a["segmentation"], SIZE, SIZE), rle_decode(b["segmentation"]))


@pytest.mark.parametrize("fmt", FORMATS["segmentation"])
def test_segmentation_png(tmp_path: Path, fmt: str) -> None:
    root = tmp_path / "seg"
    man = make("segmentation", str(root), fmt=fmt, images=N, size=SIZE)
    if fmt == "png":
        assert (root / "labels.txt").read_text().splitlines() == ["background", "circle", "square", "triangle"]
    else:
        assert not (root / "labels.txt").exists() and man.labels == ["0", "1", "2", "3"]
    imgs = sorted((root / "JPEGImages").iterdir())
    pngs = sorted((root / "Annotations").iterdir())
    assert len(imgs) == N and [p.stem for p in imgs] == [p.stem for p in pngs]
    seen: set[int] = set()
    for img_path, png_path in zip(imgs, pngs):
        img = read(root, f"JPEGImages/{img_path.name}").astype(float)
        label = cv2.imread(str(png_path), cv2.IMREAD_UNCHANGED)
        assert label.dtype == np.uint8 and label.shape == (SIZE, SIZE)
        values = set(np.unique(label).tolist())
        assert values <= {0, 1, 2, 3, 255}
        seen |= values
        shapes = (label > 0) & (label < 255)
        near = cv2.dilate(shapes.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        assert np.all(near[label == 255])  # the ignore ring hugs a shape, at most 2 px away
        for v in values - {0, 255}:
            assert np.abs(img[label == v].mean(axis=0) - img[label == 0].mean(axis=0)).max() > 40
    assert seen == {0, 1, 2, 3, 255}


@pytest.mark.parametrize("fmt", FORMATS["remote_segmentation"])
@pytest.mark.parametrize("bands", [4, 6])
def test_remote_bands_and_separable_spectra(tmp_path: Path, fmt: str, bands: int) -> None:
    root = tmp_path / "rs"
    man = make("remote_segmentation", str(root), fmt=fmt, images=N, size=SIZE, bands=bands)
    labels = (root / "labels.txt").read_text().splitlines()
    assert labels == man.labels and labels[0] == "background" and len(labels) == 4 and man.bands == bands
    pixels, targets = [], []
    for path in sorted((root / "JPEGImages").iterdir()):
        assert path.suffix == f".{fmt}"
        cube = tifffile.imread(path) if fmt == "tif" else np.load(path)
        assert cube.shape == (SIZE, SIZE, bands)
        assert cube.dtype == (np.uint16 if fmt == "tif" else np.float32)
        label = cv2.imread(str(root / "Annotations" / f"{path.stem}.png"), cv2.IMREAD_UNCHANGED)
        assert label.shape == (SIZE, SIZE) and int(label.max()) < len(labels)
        pixels.append(cube.reshape(-1, bands).astype(float))
        targets.append(label.reshape(-1))
    x, y = np.concatenate(pixels), np.concatenate(targets)
    assert set(np.unique(y).tolist()) == {0, 1, 2, 3}
    centroids = np.stack([x[y == c].mean(axis=0) for c in range(4)])
    guess = np.argmin(((x[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
    assert (guess == y).mean() > 0.99


@pytest.mark.parametrize("kind,fmt", ALL)
def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path, kind: str, fmt: str) -> None:
    trees = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        make(kind, str(tmp_path / name), fmt=fmt, seed=seed, images=6, size=SIZE, presplit=True)
        trees.append(files(tmp_path / name))
    assert trees[0] == trees[1]
    assert trees[0] != trees[2]


@pytest.mark.parametrize("kind,fmt", ALL)
def test_presplit_lists_reference_existing_disjoint_files(tmp_path: Path, kind: str, fmt: str) -> None:
    root = tmp_path / "ps"
    man = make(kind, str(root), fmt=fmt, images=N, size=SIZE, presplit=True)
    parts: dict[str, list[str]] = {}
    if kind == "instance_segmentation" or fmt == "coco":
        assert not (root / "annotations.json").exists()
        ids: set[int] = set()
        for part in ("train", "val", "test"):
            if (root / f"{part}.json").exists():
                doc = json.loads((root / f"{part}.json").read_text())
                parts[part] = [f"JPEGImages/{i['file_name']}" for i in doc["images"]]
                assert ids.isdisjoint(i["id"] for i in doc["images"])
                ids |= {i["id"] for i in doc["images"]}
                assert {a["image_id"] for a in doc["annotations"]} <= ids
    else:
        labels = (root / "labels.txt").read_text().splitlines() if (root / "labels.txt").exists() else None
        for part in ("train", "val", "test"):
            if (root / f"{part}_list.txt").exists():
                parts[part] = []
                for line in (root / f"{part}_list.txt").read_text().splitlines():
                    first, second = line.split()
                    assert (root / first).is_file()
                    parts[part].append(first)
                    if kind == "classification":
                        assert labels is not None and Path(first).parent.name == labels[int(second)]
                    else:
                        assert (root / second).is_file() and Path(second).stem == Path(first).stem
    assert set(parts) >= {"train", "val"} and all(parts.values())
    flat = [p for paths in parts.values() for p in paths]
    assert len(flat) == len(set(flat)) == N
    assert sorted(flat) == sorted(man.images)
    assert {k: sorted(v) for k, v in parts.items()} == {k: v for k, v in man.split.items() if v}


def test_same_seed_draws_the_same_scenes_across_kinds(tmp_path: Path) -> None:
    make("detection", str(tmp_path / "det"), images=4, size=SIZE)
    make("instance_segmentation", str(tmp_path / "ins"), images=4, size=SIZE)
    assert files(tmp_path / "det" / "JPEGImages") == files(tmp_path / "ins" / "JPEGImages")


def test_tricky_layouts_mix_extensions(tmp_path: Path) -> None:
    cls = make("classification", str(tmp_path / "cls"), fmt="folders_tricky", images=N, size=SIZE)
    on_disk = {p.relative_to(tmp_path / "cls").as_posix() for p in (tmp_path / "cls").rglob("*") if p.is_file()}
    assert on_disk == set(cls.images) | set(cls.skipped)
    exts = {Path(p).suffix for p in on_disk}
    assert {".jpg", ".png", ".bmp", ".Jpg"} <= exts
    assert any(" " in p for p in cls.images) and any(p.count("/") == 2 for p in cls.skipped)
    for rel in cls.images:
        assert Path(rel).suffix in PIC_EXTS and rel.count("/") == 1
        assert read(tmp_path / "cls", rel).shape == (SIZE, SIZE, 3)
    voc = make("detection", str(tmp_path / "voc"), fmt="voc", tricky=True, images=N, size=SIZE)
    for rel in voc.images + voc.skipped:
        assert (tmp_path / "voc" / rel).is_file()
        assert (tmp_path / "voc" / "Annotations" / f"{Path(rel).stem}.xml").is_file()
    coco = make("instance_segmentation", str(tmp_path / "coco"), fmt="coco_tricky", images=N, size=SIZE)
    assert not coco.skipped
    doc = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    assert sorted(f"JPEGImages/{i['file_name']}" for i in doc["images"]) == sorted(coco.images)
    plain = make("segmentation", str(tmp_path / "plain"), images=N, size=SIZE)
    assert all(p.endswith(".jpg") and " " not in p for p in plain.images) and not plain.skipped


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(FileExistsError):
        make("detection", str(tmp_path / "full"))
    for kind, fmt in (("nope", None), ("detection", "png"), ("classification", "voc")):
        with pytest.raises(ValueError):
            make(kind, str(tmp_path / "new"), fmt=fmt)
    for kw in ({"classes": 1}, {"fmt": "folders_tricky", "presplit": True}, {"images": 1, "presplit": True}):
        with pytest.raises(ValueError):
            make("classification", str(tmp_path / "new"), **kw)  # type: ignore[arg-type]
    assert not os.path.exists(tmp_path / "new")


def test_demo_make_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="pdxsrv")
    demo = parser.add_subparsers(dest="command").add_parser("demo")
    demo_cmd.add_commands(demo.add_subparsers(dest="demo_command", required=True))
    target = str(tmp_path / "out")
    args = parser.parse_args(["demo", "make", "detection", target, "--format", "coco", "--images", "4",
                              "--seed", "2", "--classes", "2", "--presplit"])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "detection" in out and "coco" in out and "4 images" in out and "circle,square" in out and target in out
    assert (tmp_path / "out" / "train.json").is_file()
    args = parser.parse_args(["demo", "make", "detection", target])
    assert demo_cmd.cmd_make(args) == 2
    assert "not empty" in capsys.readouterr().err
    args = parser.parse_args(["demo", "make", "nope", str(tmp_path / "other")])
    assert demo_cmd.cmd_make(args) == 2
    assert "unknown dataset type" in capsys.readouterr().err
