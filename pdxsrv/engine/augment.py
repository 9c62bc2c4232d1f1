"""Image reading and augmentation shared by the project types (numpy + OpenCV, RGB order).

The task parameters name each augmentation with a switch and a probability (`brightness`,
`brightness_prob`, `brightness_range`, ...); a switched-off augmentation has probability 0, as in
the original. Values may arrive as strings (the web demo sends them so): `number` and `flag`
read them.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import cv2
import numpy as np

from pdxsrv.datasets.remote import layout
from pdxsrv.engine.base import EngineError

TRUE_WORDS = ("true", "1", "yes", "on")


def number(params: dict[str, Any], key: str, default: float) -> float:
    """`params[key]` as a float (`default` when absent or null)."""
    value = params.get(key)
    if value is None or value == "":
        return float(default)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise EngineError(f"training parameter {key}={value!r} is not a number") from None


def flag(params: dict[str, Any], key: str, default: bool) -> bool:
    """`params[key]` as a bool (strings 'true'/'false' accepted)."""
    value = params.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in TRUE_WORDS
    return bool(value)


def probability(params: dict[str, Any], name: str, default_on: bool = True, default_prob: float = 0.5) -> float:
    """The probability of augmentation `name`: 0 when its switch is off."""
    if not flag(params, name, default_on):
        return 0.0
    return min(max(number(params, f"{name}_prob", default_prob), 0.0), 1.0)


def image_shape(params: dict[str, Any], default: Sequence[int] = (224, 224)) -> tuple[int, int]:
    """(width, height) the model sees, from `image_shape` (one number or two)."""
    shape = params.get("image_shape") or list(default)
    if isinstance(shape, (int, float, str)):
        shape = [shape, shape]
    try:
        width, height = int(shape[0]), int(shape[-1])
    except (TypeError, ValueError, IndexError):
        raise EngineError(f"training parameter image_shape={shape!r} must be [width, height]") from None
    if not (8 <= width <= 8192 and 8 <= height <= 8192):
        raise EngineError(f"training parameter image_shape={shape!r} must be between 8 and 8192 pixels per side")
    return width, height


def read_rgb(path: str) -> np.ndarray:
    """An image file as H x W x 3 uint8 RGB."""
    data = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise EngineError(f"{os.path.basename(path)} cannot be decoded as an image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_raster(path: str) -> np.ndarray:
    """A multi-band image (.tif/.tiff/.npy, or an ordinary picture) as H x W x bands float32 in [0, 1]."""
    lower = path.lower()
    if lower.endswith(".npy"):
        raster, axes = np.load(path, allow_pickle=False), ""
    elif lower.endswith((".tif", ".tiff")):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            raster, axes = series.asarray(), series.axes
    else:
        return read_rgb(path).astype(np.float32) / 255.0
    width, height, bands = layout(raster.shape, axes)
    if raster.ndim == 2:
        raster = raster[:, :, None]
    elif raster.shape[0] == bands and raster.shape[2] != bands:
        raster = np.moveaxis(raster, 0, 2)
    return _unit_range(raster)


def _unit_range(raster: np.ndarray) -> np.ndarray:
    """Integer rasters scaled by their type's maximum; float rasters used as they are."""
    if raster.dtype.kind in "ui":
        return raster.astype(np.float32) / float(np.iinfo(raster.dtype).max)
    return raster.astype(np.float32)


def resize(img: np.ndarray, size: tuple[int, int], nearest: bool = False) -> np.ndarray:
    """Resize to (width, height); any band count."""
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    out = cv2.resize(img, size, interpolation=interp)
    return out[:, :, None] if img.ndim == 3 and out.ndim == 2 else out


def random_crop(img: np.ndarray, size: tuple[int, int], rng: np.random.Generator,
                scaling: tuple[float, float] = (0.88, 1.0), aspect: tuple[float, float] = (3 / 4, 4 / 3)) -> np.ndarray:
    """A random area- and aspect-jittered crop, resized to `size` (classification training)."""
    h, w = img.shape[:2]
    for _ in range(10):
        area = h * w * rng.uniform(*scaling)
        ratio = np.exp(rng.uniform(np.log(aspect[0]), np.log(aspect[1])))
        cw, ch = int(round(np.sqrt(area * ratio))), int(round(np.sqrt(area / ratio)))
        if 0 < cw <= w and 0 < ch <= h:
            x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            return resize(img[y:y + ch, x:x + cw], size)
    return resize(img, size)


def center_crop(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize the short side to 1.143 x the crop, then crop the centre (classification evaluation)."""
    h, w = img.shape[:2]
    short = int(min(size) * 1.143)
    scale = short / min(h, w)
    img = resize(img, (max(int(round(w * scale)), size[0]), max(int(round(h * scale)), size[1])))
    h, w = img.shape[:2]
    x, y = (w - size[0]) // 2, (h - size[1]) // 2
    return img[y:y + size[1], x:x + size[0]]


def flips(arrays: list[np.ndarray], params: dict[str, Any], rng: np.random.Generator,
          vertical_default: bool = True) -> list[np.ndarray]:
    """Flip image and label maps together, horizontally and vertically, with the parameters' probabilities."""
    if rng.random() < probability(params, "horizontal_flip"):
        arrays = [a[:, ::-1] for a in arrays]
    if rng.random() < probability(params, "vertical_flip", vertical_default, 0.0):
        arrays = [a[::-1] for a in arrays]
    return arrays


def distort(img: np.ndarray, params: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast, saturation and hue jitter of an RGB uint8 image (skipped for other bands)."""
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        return img
    out = img.astype(np.float32)
    if rng.random() < probability(params, "brightness"):
        r = number(params, "brightness_range", 0.5)
        out = out * rng.uniform(1 - r, 1 + r)
    if rng.random() < probability(params, "contrast"):
        r = number(params, "contrast_range", 0.5)
        mean = out.mean()
        out = (out - mean) * rng.uniform(1 - r, 1 + r) + mean
    if rng.random() < probability(params, "saturation"):
        r = number(params, "saturation_range", 0.5)
        grey = out.mean(axis=2, keepdims=True)
        out = (out - grey) * rng.uniform(1 - r, 1 + r) + grey
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < probability(params, "hue"):
        delta = rng.uniform(-1, 1) * number(params, "hue_range", 18)
        hsv = cv2.cvtColor(out, cv2.COLOR_RGB2HSV)
        hsv[:, :, 0] = ((hsv[:, :, 0].astype(np.int32) + int(delta / 2)) % 180).astype(np.uint8)
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return out


def blur(img: np.ndarray, params: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """A Gaussian blur with the parameters' probability (`blur`, `blur_prob`)."""
    if rng.random() < probability(params, "blur", False, 0.1):
        k = int(rng.choice([3, 5]))
        out = cv2.GaussianBlur(img, (k, k), 0)
        return out[:, :, None] if img.ndim == 3 and out.ndim == 2 else out
    return img


def normalize(img: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """C x H x W float32: uint8 scaled to [0, 1], then (x - image_mean) / image_std (repeated over extra bands)."""
    x = img.astype(np.float32)
    if img.dtype == np.uint8:
        x /= 255.0
    bands = x.shape[2] if x.ndim == 3 else 1
    mean = _per_band(params.get("image_mean"), bands, 0.5, "image_mean")
    std = _per_band(params.get("image_std"), bands, 0.5, "image_std")
    x = (x.reshape(x.shape[0], x.shape[1], bands) - mean) / std
    return np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32)


def _per_band(value: Any, bands: int, default: float, name: str) -> np.ndarray:
    values = [default] if value in (None, "", []) else (value if isinstance(value, (list, tuple)) else [value])
    try:
        arr = np.array([float(v) for v in values], dtype=np.float32)
    except (TypeError, ValueError):
        raise EngineError(f"training parameter {name}={value!r} must be a list of numbers") from None
    if name == "image_std" and (arr <= 0).any():
        raise EngineError(f"training parameter image_std={value!r} must be positive")
    if arr.size != bands:
        arr = np.resize(arr, bands)  # the RGB statistics repeated over the extra bands of a multi-band image
    return arr
