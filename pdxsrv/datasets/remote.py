"""Remote-sensing segmentation reader: multi-band `.tif`/`.tiff` (tifffile) or `.npy` images + PNG label maps.

The band count, the same for every image, is recorded in `Scan.bands` (it later sets the model's input channels).
"""

from __future__ import annotations

import os

import numpy as np

from pdxsrv.datasets.classification import decode
from pdxsrv.datasets.scan import DatasetError, Progress, Scan, is_image
from pdxsrv.datasets.segmentation import scan_pairs

RASTER_EXTENSIONS = (".tif", ".tiff", ".npy")
BANDS_FIRST_RATIO = 4  # a leading axis this many times smaller than both others holds the bands


def layout(shape: tuple[int, ...], axes: str = "") -> tuple[int, int, int]:
    """(width, height, bands) of an array shape: H x W, H x W x bands, or bands x H x W (tifffile axes win)."""
    if len(shape) == 2:
        return shape[1], shape[0], 1
    if len(shape) != 3:
        raise ValueError(f"has {len(shape)} dimensions {tuple(shape)}; expected H x W, H x W x bands or bands x H x W")
    if len(axes) == 3 and axes.endswith("YX"):
        return shape[2], shape[1], shape[0]
    if len(axes) == 3 and axes[:2] == "YX":
        return shape[1], shape[0], shape[2]
    first, second, third = shape
    if first * BANDS_FIRST_RATIO <= min(second, third) and third * BANDS_FIRST_RATIO > min(first, second):
        return third, second, first
    return second, first, third


def _read_npy(path: str) -> tuple[int, int, int]:
    """Size and bands of a numeric .npy array, never unpickling anything."""
    data = np.load(path, mmap_mode="r", allow_pickle=False)
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "biuf":
        raise ValueError(f"holds {getattr(data, 'dtype', type(data).__name__)} data, not numbers")
    return layout(data.shape)


def _read_tiff(path: str) -> tuple[int, int, int]:
    """Size and bands of a (Geo)TIFF, decoding its pixels to check them."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if not tif.series:
            raise ValueError("contains no image")
        series = tif.series[0]
        size = layout(tuple(series.shape), series.axes)
        series.asarray()
    return size


def read_raster(root: str, rel: str) -> tuple[int, int, int]:
    """(width, height, bands) of a multi-band image; a corrupt, pickled or odd-shaped file is a DatasetError."""
    path = os.path.join(root, rel)
    lower = rel.lower()
    try:
        if lower.endswith(".npy"):
            return _read_npy(path)
        if lower.endswith((".tif", ".tiff")):
            return _read_tiff(path)
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "Python objects" in str(exc):
            raise DatasetError(rel, "holds pickled Python objects, which are never loaded; save a numeric array "
                               "with numpy.save(..., allow_pickle=False)") from None
        raise DatasetError(rel, f"is not a readable multi-band image: {exc}") from None
    except (OSError, EOFError, KeyError, IndexError, TypeError) as exc:
        raise DatasetError(rel, f"is not a readable multi-band image (corrupt or truncated: {exc})") from None
    return decode(root, rel)


def _wanted(rel: str) -> bool:
    """A raster (.tif/.tiff/.npy, any case) or an ordinary image."""
    return rel.lower().endswith(RASTER_EXTENSIONS) or is_image(rel)


def scan(root: str, progress: Progress | None = None) -> Scan:
    """Check a remote-sensing segmentation dataset and describe it (bands included)."""
    return scan_pairs(root, progress, "remote_segmentation", _wanted, read_raster, same_bands=True)
