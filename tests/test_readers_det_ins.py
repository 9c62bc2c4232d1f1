"""Detection (VOC, COCO) and instance segmentation (COCO polygons, RLE) readers on synthetic and broken datasets."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import pytest

from pdxsrv.datasets import detection, instance_segmentation, synthetic
from pdxsrv.datasets.coco import check_segmentation, rle_string_counts
from pdxsrv.datasets.scan import DatasetError

READERS: dict[str, ModuleType] = {"detection": detection, "instance_segmentation": instance_segmentation}
CASES = [
    (kind, fmt, presplit, tricky)
    for kind in READERS for fmt in synthetic.FORMATS[kind]
    for presplit, tricky in ((False, False), (True, False), (False, True))
]


def objects_of(root: Path, annotation: str, image: str) -> list[str]:
    """An independent reading of the class names annotated on one image (crowd annotations excluded)."""
    if annotation.endswith(".xml"):
        return [o.findtext("name") or "" for o in ET.parse(root / annotation).getroot().iter("object")]
    doc = json.loads((root / annotation).read_text())
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    ids = [i["id"] for i in doc["images"] if "JPEGImages/" + i["file_name"] == image]
    return [cats[a["category_id"]] for a in doc["annotations"] if a["image_id"] in ids and not a["iscrowd"]]


@pytest.mark.parametrize(("kind", "fmt", "presplit", "tricky"), CASES)
def test_synthetic_formats(tmp_path: Path, kind: str, fmt: str, presplit: bool, tricky: bool) -> None:
    """Every generated format scans with the manifest's labels, annotations, per-class counts and split."""
    root = tmp_path / "ds"
    man = synthetic.make(kind, str(root), fmt=fmt, presplit=presplit, tricky=tricky, images=14)
    progress: list[tuple[int, int]] = []
    scan = READERS[kind].scan(str(root), lambda done, total: progress.append((done, total)))
    assert scan.type == kind
    assert scan.labels == man.labels
    accepted = sorted(man.images + man.skipped)  # the original's rejects (.Jpg) are accepted here
    assert sorted(scan.file_info) == accepted
    assert {img: scan.file_info[img] for img in man.images} == man.annotations
    per_class: Counter[str] = Counter()
    expected_info: dict[str, set[str]] = {label: set() for label in man.labels}
    for img in accepted:
        names = objects_of(root, scan.file_info[img], img)
        if img in man.images:
            per_class.update(names)
        for name in names:
            expected_info[name].add(img)
    assert dict(per_class) == {k: v for k, v in man.per_class.items() if v}
    assert {k: set(v) for k, v in scan.label_info.items()} == expected_info
    assert all(v == sorted(v) for v in scan.label_info.values())
    if tricky:
        assert any(" " in img for img in scan.file_info) and any(img.endswith(".JPEG") for img in scan.file_info)
    if presplit:
        assert scan.split is not None
        expected = {k: man.split.get(k, []) for k in ("train", "val", "test")}
        assert {k: sorted(v) for k, v in scan.split.items()} == expected
    else:
        assert scan.split is None
    assert set(scan.file_info) | set(scan.file_info.values()) <= set(scan.files)
    assert all((root / f).is_file() for f in scan.files)
    if presplit and fmt == "voc":
        assert {"labels.txt", "train_list.txt", "val_list.txt"} <= set(scan.files)
    assert scan.image_stats["count"] == len(accepted)
    assert scan.image_stats["min_width"] == scan.image_stats["max_width"] == 64
    assert progress and progress[-1][0] == progress[-1][1]
    details = scan.details()
    assert details["class_counts"] == {k: len(v) for k, v in expected_info.items()}


def test_nested_voc_and_missing_sizes(tmp_path: Path) -> None:
    """Images in sub-directories are found; a VOC file without <size> is checked against the image header."""
    root = tmp_path / "ds"
    synthetic.make("detection", str(root), fmt="voc", images=3)
    (root / "JPEGImages" / "deep" / "er").mkdir(parents=True)
    (root / "JPEGImages" / "img_0001.jpg").rename(root / "JPEGImages" / "deep" / "er" / "img_0001.jpg")
    xml = root / "Annotations" / "img_0002.xml"
    text = xml.read_text()
    xml.write_text(text[:text.index("<size>")] + text[text.index("</size>") + 7:])
    scan = detection.scan(str(root))
    assert scan.file_info["JPEGImages/deep/er/img_0001.jpg"] == "Annotations/img_0001.xml"
    assert scan.image_stats["count"] == 3 and scan.image_stats["max_height"] == 64


def test_crowd_annotations_are_not_counted(tmp_path: Path) -> None:
    """An iscrowd annotation is checked but does not put its image into label_info."""
    root = tmp_path / "ds"
    synthetic.make("instance_segmentation", str(root), fmt="coco", images=2, classes=2)
    doc = json.loads((root / "annotations.json").read_text())
    for ann in doc["annotations"]:
        ann["iscrowd"] = 1 if ann["image_id"] == 2 else 0
    (root / "annotations.json").write_text(json.dumps(doc))
    scan = instance_segmentation.scan(str(root))
    assert all("JPEGImages/img_0001.jpg" not in v for v in scan.label_info.values())
    assert scan.image_stats["crowd_annotations"] > 0


def _coco_rle_string(counts: list[int]) -> str:
    """pycocotools' rleToString, for checking the decoder."""
    out = []
    for i, c in enumerate(counts):
        x = c - counts[i - 2] if i > 2 else c
        more = True
        while more:
            ch = x & 0x1F
            x >>= 5
            more = x != -1 if ch & 0x10 else x != 0
            out.append(chr((ch | 0x20 if more else ch) + 48))
    return "".join(out)


def test_rle_helpers() -> None:
    """Compressed RLE strings decode; sizes and counts are checked."""
    counts = [0, 5, 300, 2, 70000, 1, 1, 4095, 9]
    assert rle_string_counts(_coco_rle_string(counts)) == counts
    assert rle_string_counts("5\x7f") is None
    assert check_segmentation({"counts": _coco_rle_string([1, 3]), "size": [2, 2]}, (2, 2)) is None
    assert check_segmentation({"counts": [2, 2], "size": [2, 2]}, (2, 2)) is None
    assert "add up to 3" in (check_segmentation({"counts": [1, 2], "size": [2, 2]}, (2, 2)) or "")
    assert "does not match" in (check_segmentation({"counts": [4], "size": [2, 2]}, (3, 2)) or "")
    assert "empty" in (check_segmentation([], (2, 2)) or "")


# ---- broken datasets: each a DatasetError naming the file and the problem ----

def _voc(tmp_path: Path, presplit: bool = False) -> Path:
    """A small VOC dataset to break."""
    root = tmp_path / "ds"
    synthetic.make("detection", str(root), fmt="voc", images=6, presplit=presplit)
    return root


def _coco(tmp_path: Path, kind: str = "instance_segmentation", fmt: str = "coco", presplit: bool = False) -> Path:
    """A small COCO dataset to break."""
    root = tmp_path / "ds"
    synthetic.make(kind, str(root), fmt=fmt, images=4, presplit=presplit)
    return root


def _edit_json(path: Path, change: Callable[[Any], Any]) -> None:
    """Rewrite a JSON file after `change` edits it in place."""
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=1))


def _error(reader: ModuleType, root: Path) -> DatasetError:
    """The DatasetError the reader raises on `root`."""
    with pytest.raises(DatasetError) as info:
        reader.scan(str(root))
    return info.value


def test_missing_xml(tmp_path: Path) -> None:
    """A broken dataset: missing xml."""
    root = _voc(tmp_path)
    (root / "Annotations" / "img_0003.xml").unlink()
    err = _error(detection, root)
    assert str(err) == "JPEGImages/img_0003.jpg: has no annotation: Annotations/img_0003.xml is missing"


def test_malformed_xml(tmp_path: Path) -> None:
    """A broken dataset: malformed xml."""
    root = _voc(tmp_path)
    (root / "Annotations" / "img_0002.xml").write_text("<annotation>\n  <object>\n</annotation>\n")
    err = _error(detection, root)
    assert err.file == "Annotations/img_0002.xml" and err.line == 3
    assert "not well-formed XML" in err.problem


def test_inverted_box(tmp_path: Path) -> None:
    """A broken dataset: inverted box."""
    root = _voc(tmp_path)
    xml = root / "Annotations" / "img_0001.xml"
    text = xml.read_text()
    xmin = text[text.index("<xmin>") + 6:text.index("</xmin>")]
    xmax = text[text.index("<xmax>") + 6:text.index("</xmax>")]
    text = text.replace(f"<xmin>{xmin}<", f"<xmin>{xmax}<", 1).replace(f"<xmax>{xmax}<", f"<xmax>{xmin}<", 1)
    xml.write_text(text)
    err = _error(detection, root)
    assert err.file == "Annotations/img_0001.xml"
    assert err.problem.startswith("object 1 'square': box") and "inverted" in err.problem


def test_box_outside_image(tmp_path: Path) -> None:
    """A broken dataset: box outside image."""
    root = _voc(tmp_path)
    xml = root / "Annotations" / "img_0000.xml"
    text = xml.read_text()
    xml.write_text(text.replace("<width>64</width>", "<width>8</width>"))
    err = _error(detection, root)
    assert err.file == "Annotations/img_0000.xml" and "outside the 8x64 image" in err.problem


def test_object_not_in_labels(tmp_path: Path) -> None:
    """A broken dataset: object not in labels."""
    root = _voc(tmp_path, presplit=True)
    first = (root / "train_list.txt").read_text().split("\n")[0].split()[1]
    xml = root / first
    text = xml.read_text()
    name = text[text.index("<name>") + 6:text.index("</name>")]
    xml.write_text(text.replace(f"<name>{name}</name>", "<name>dog</name>", 1))
    assert str(_error(detection, root)) == f"{first}: object 1 'dog' is not in labels.txt"


def test_wrong_column_count(tmp_path: Path) -> None:
    """A broken dataset: wrong column count."""
    root = _voc(tmp_path, presplit=True)
    lines = (root / "val_list.txt").read_text().splitlines()
    lines[0] = lines[0].replace("JPEGImages/", "JPEGImages/my ")
    (root / "val_list.txt").write_text("\n".join(lines) + "\n")
    err = _error(detection, root)
    assert (err.file, err.line) == ("val_list.txt", 1) and "has 3 columns, expected 2" in err.problem


def test_list_names_missing_file(tmp_path: Path) -> None:
    """A broken dataset: list names missing file."""
    root = _voc(tmp_path, presplit=True)
    text = (root / "train_list.txt").read_text()
    (root / "train_list.txt").write_text("\n" + text.replace(".jpg", ".png", 1))
    err = _error(detection, root)
    assert (err.file, err.line) == ("train_list.txt", 2) and "does not exist" in err.problem


@pytest.mark.parametrize("kind", list(READERS))
def test_annotation_with_missing_image_id(tmp_path: Path, kind: str) -> None:
    """A broken dataset: annotation with missing image id."""
    root = _coco(tmp_path, kind)
    _edit_json(root / "annotations.json", lambda d: d["annotations"][1].update(image_id=999))
    err = _error(READERS[kind], root)
    assert str(err) == 'annotations.json: annotation id 102: image_id 999 is not in "images"'


def test_image_file_missing(tmp_path: Path) -> None:
    """A broken dataset: image file missing."""
    root = _coco(tmp_path, presplit=True)
    doc = json.loads((root / "val.json").read_text())
    for image in doc["images"]:
        (root / "JPEGImages" / image["file_name"]).unlink()
    err = _error(instance_segmentation, root)
    first = doc["images"][0]
    assert err.file == "val.json"
    assert err.problem.startswith(f"image id {first['id']}: file '{first['file_name']}' is not in JPEGImages/")


def test_odd_polygon(tmp_path: Path) -> None:
    """A broken dataset: odd polygon."""
    root = _coco(tmp_path)
    _edit_json(root / "annotations.json", lambda d: d["annotations"][0]["segmentation"][0].append(5))
    err = _error(instance_segmentation, root)
    assert err.file == "annotations.json"
    assert err.problem.startswith("annotation id 101: polygon 1 has ") and "even count" in err.problem


def test_rle_size_mismatch(tmp_path: Path) -> None:
    """A broken dataset: rle size mismatch."""
    root = _coco(tmp_path, fmt="coco_rle")
    _edit_json(root / "annotations.json", lambda d: d["annotations"][0]["segmentation"].update(size=[64, 32]))
    err = _error(instance_segmentation, root)
    assert str(err) == ("annotations.json: annotation id 101: RLE size [64, 32] does not match the image's "
                        "[height, width] [64, 64]")


def test_bad_bbox(tmp_path: Path) -> None:
    """A broken dataset: bad bbox."""
    root = _coco(tmp_path, "detection")
    _edit_json(root / "annotations.json", lambda d: d["annotations"][0].update(bbox=[1, 2, 0, 5]))
    err = _error(detection, root)
    assert err.file == "annotations.json" and "annotation id 101: bbox" in err.problem


def test_invalid_json(tmp_path: Path) -> None:
    """A broken dataset: invalid json."""
    root = _coco(tmp_path, "detection")
    (root / "annotations.json").write_text('{\n "images": [],\n "annotations": [}\n')
    err = _error(detection, root)
    assert (err.file, err.line) == ("annotations.json", 3)
    assert err.problem.startswith("is not valid JSON: ") and "(column 18)" in err.problem


def test_empty_directory(tmp_path: Path) -> None:
    """A broken dataset: empty directory."""
    err = _error(detection, tmp_path)
    assert err.file == "." and err.problem.startswith("is not a detection dataset: expected JPEGImages/")
    err = _error(instance_segmentation, tmp_path)
    assert err.file == "JPEGImages" and err.problem.startswith("is missing")
    (tmp_path / "JPEGImages").mkdir()
    assert str(_error(instance_segmentation, tmp_path)).startswith("annotations.json: is missing")


def test_nested_coco_file_name_with_space(tmp_path: Path) -> None:
    """A COCO file_name nested, with spaces and an upper-case extension, is found; one climbing out is refused."""
    root = _coco(tmp_path, "detection")
    (root / "JPEGImages" / "a b").mkdir()
    (root / "JPEGImages" / "img_0001.jpg").rename(root / "JPEGImages" / "a b" / "img 1.JPG")
    _edit_json(root / "annotations.json", lambda d: d["images"][1].update(file_name="a b/img 1.JPG"))
    scan = detection.scan(str(root))
    assert scan.file_info["JPEGImages/a b/img 1.JPG"] == "annotations.json"
    _edit_json(root / "annotations.json", lambda d: d["images"][1].update(file_name="../../etc/passwd.jpg"))
    assert "points outside the dataset" in str(_error(detection, root))


def test_presplit_needs_val(tmp_path: Path) -> None:
    """A broken dataset: presplit needs val."""
    root = _coco(tmp_path, presplit=True)
    os.unlink(root / "val.json")
    assert str(_error(instance_segmentation, root)).startswith("val.json: is missing")
