"""Which dataset type a folder's layout belongs to, so an import of the wrong type is refused with the right one.

`looks_like(root)` reads only names (and, for one TIFF, its header): it returns `(layout, how)` for a
layout it recognises (a key of LAYOUTS, which lists the types that read it), or None when it cannot
tell (the reader then says what is wrong).

* COCO: `annotations.json`, or `train.json` + `val.json` -> detection or instance segmentation (both read it);
* `JPEGImages/` + `Annotations/` holding `.xml` -> detection (VOC);
* `JPEGImages/` + `Annotations/` holding `.png` masks -> segmentation, or remote sensing when the images are
  `.npy` arrays or TIFFs that are not 8-bit 1- or 3-band pictures;
* `train_list.txt` rows `<image> <index>` -> classification, `<image> <x>.xml` -> VOC, `<image> <x>.png` -> masks;
* folders holding images and none of the above -> classification (one folder per class).

`check(root, wanted)` raises a DatasetError when the layout is another type's: "this folder looks like a
detection dataset (VOC: JPEGImages/ and Annotations/ with .xml): create a detection dataset ...".
"""

from __future__ import annotations

import itertools
import os

from pdxsrv.datasets.scan import DatasetError, is_image

IMAGES, ANNOTATIONS = "JPEGImages", "Annotations"
SAMPLE = 200  # directory entries looked at, at most, per folder
RASTER_FOR_REMOTE = "remote_segmentation"


def _names(folder: str, limit: int = SAMPLE) -> list[str]:
    """Up to `limit` visible entry names of `folder` (sorted), or [] if it cannot be read."""
    try:
        with os.scandir(folder) as entries:
            return sorted(e.name for e in itertools.islice((e for e in entries if not e.name.startswith(".")), limit))
    except OSError:
        return []


def _ext(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def _raster_images(folder: str) -> str | None:
    """Why the images in `folder` are remote-sensing rasters (.npy, or a TIFF that is no 8-bit 1/3-band picture)."""
    names = [n for n in _names(folder) if _ext(n) in (".npy", ".tif", ".tiff")]
    if any(_ext(n) == ".npy" for n in names):
        return ".npy arrays in JPEGImages/"
    for name in names[:1]:
        try:
            import tifffile

            with tifffile.TiffFile(os.path.join(folder, name)) as tif:
                series = tif.series[0]
                shape, dtype = tuple(series.shape), str(series.dtype)
        except Exception:  # noqa: BLE001 - an unreadable TIFF is the reader's to report
            return None
        bands = 1 if len(shape) == 2 else min(shape[0], shape[-1])
        if bands not in (1, 3) or dtype != "uint8":
            return f"{bands}-band {dtype} TIFF images in JPEGImages/"
    return None


def _list_kind(root: str) -> tuple[str, str] | None:
    """The layout a pre-split train_list.txt's second column points to."""
    try:
        with open(os.path.join(root, "train_list.txt"), encoding="utf-8-sig", errors="replace") as f:
            rows = [line.split() for line in itertools.islice(f, 50)]
    except OSError:
        return None
    seconds = [row[1] for row in rows if len(row) == 2]
    if not seconds:
        return None
    if all(s.isdigit() for s in seconds):
        return "classification", "train_list.txt pairs images with class indices"
    if all(s.lower().endswith(".xml") for s in seconds):
        return "voc", "train_list.txt pairs images with VOC .xml files"
    if all(s.lower().endswith(".png") for s in seconds):
        return "segmentation", "train_list.txt pairs images with .png label maps"
    return None


def looks_like(root: str) -> tuple[str, str] | None:
    """(layout, what shows it) of the folder `root`, or None when it cannot tell."""
    top = _names(root, 10_000)
    if "annotations.json" in top or ("train.json" in top and "val.json" in top):
        return "coco", "COCO: annotations.json" if "annotations.json" in top else "COCO: train.json + val.json"
    if "train_list.txt" in top:
        found = _list_kind(root)
        if found and found[0] == "segmentation" and IMAGES in top:
            raster = _raster_images(os.path.join(root, IMAGES))
            if raster:
                return RASTER_FOR_REMOTE, f"{raster} with .png label maps"
        return found
    if IMAGES in top and ANNOTATIONS in top:
        notes = {_ext(n) for n in _names(os.path.join(root, ANNOTATIONS))}
        if ".xml" in notes and ".png" not in notes:
            return "voc", f"VOC: {IMAGES}/ and {ANNOTATIONS}/ with .xml"
        if ".png" in notes and ".xml" not in notes:
            raster = _raster_images(os.path.join(root, IMAGES))
            if raster:
                return RASTER_FOR_REMOTE, f"{raster} with .png label maps in {ANNOTATIONS}/"
            return "segmentation", f"{IMAGES}/ and {ANNOTATIONS}/ with .png label maps"
        return None
    if IMAGES in top or ANNOTATIONS in top:
        return None
    folders = [n for n in top if os.path.isdir(os.path.join(root, n))]
    if folders and any(any(is_image(n) for n in _names(os.path.join(root, d), 50)) for d in folders):
        return "classification", "one folder of images per class"
    return None


# layout -> (the dataset types that read it, the first being the one to suggest; what to call the layout)
LAYOUTS: dict[str, tuple[tuple[str, ...], str]] = {
    "classification": (("classification",), "classification"),
    "voc": (("detection",), "detection"),
    "coco": (("detection", "instance_segmentation"), "detection or instance segmentation"),
    "segmentation": (("segmentation", RASTER_FOR_REMOTE), "segmentation"),  # remote sensing takes RGB images too
    RASTER_FOR_REMOTE: ((RASTER_FOR_REMOTE,), "remote sensing segmentation"),
}


def check(root: str, wanted: str) -> None:
    """DatasetError when the folder's layout is that of another dataset type than `wanted`."""
    found = looks_like(root)
    if found is None:
        return
    layout, how = found
    types, label = LAYOUTS[layout]
    if wanted in types:
        return
    create = " or ".join(f"'{t}'" for t in types)
    article = "an" if wanted[0] in "aeiou" else "a"
    raise DatasetError(".", f"this folder looks like a {label} dataset ({how}), not {article} {wanted} one: create a "
                       f"dataset of type {create} for it, or choose the folder of {article} {wanted} dataset; "
                       "nothing was imported")
