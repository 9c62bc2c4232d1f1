"""Scenes of coloured shapes on textured backgrounds, with the exact pixel mask of every shape.

Every shape is a polygon with integer vertices filled with `cv2.fillPoly` (8-connected, no anti-aliasing), so
re-filling the same vertices reproduces the mask bit for bit. Shapes never overlap and keep a gap of at least
`GAP` pixels, so masks, boxes and 1-2 px ignore rings are unambiguous.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

GAP = 6
MAX_TRIES = 200

# (name, BGR colour); names and colours are distinct so that a tiny model can tell the classes apart.
CATALOGUE: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("circle", (40, 40, 230)),
    ("square", (40, 200, 40)),
    ("triangle", (230, 60, 30)),
    ("star", (20, 220, 240)),
    ("hexagon", (220, 40, 220)),
    ("cross", (230, 230, 40)),
    ("diamond", (20, 130, 255)),
    ("pentagon", (250, 250, 250)),
)


@dataclass
class Shape:
    """One drawn object: its class index (into the sorted labels), polygon (N x 2 int32, x then y) and mask."""

    cls: int
    poly: np.ndarray
    mask: np.ndarray

    def box(self) -> tuple[int, int, int, int]:
        """Inclusive 0-based pixel box (xmin, ymin, xmax, ymax) of the mask."""
        ys, xs = np.nonzero(self.mask)
        return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())

    def area(self) -> int:
        """Number of pixels of the mask."""
        return int(np.count_nonzero(self.mask))


def class_names(classes: int) -> list[str]:
    """The labels for `classes` shape classes, sorted (label index = position)."""
    if not 1 <= classes <= len(CATALOGUE):
        raise ValueError(f"classes must be between 1 and {len(CATALOGUE)} for shape datasets")
    return sorted(name for name, _ in CATALOGUE[:classes])


def _regular(n: int, cx: float, cy: float, r: float, start: float) -> np.ndarray:
    angles = start + np.arange(n) * 2 * math.pi / n
    return np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], axis=1)


def _rotate(local: np.ndarray, cx: float, cy: float, theta: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.stack([cx + c * local[:, 0] - s * local[:, 1], cy + s * local[:, 0] + c * local[:, 1]], axis=1)


def polygon(name: str, cx: float, cy: float, r: float, theta: float) -> np.ndarray:
    """The integer polygon of a shape inscribed in the circle (cx, cy, r), rotated by theta (radians)."""
    if name == "circle":
        pts = cv2.ellipse2Poly((round(cx), round(cy)), (round(r), round(r)), 0, 0, 360, 10)[:-1]
        return np.ascontiguousarray(pts, dtype=np.int32)
    if name == "square":
        pts = _regular(4, cx, cy, r, math.pi / 4 + theta)
    elif name == "diamond":
        pts = _regular(4, cx, cy, r, theta)
    elif name == "triangle":
        pts = _regular(3, cx, cy, r, -math.pi / 2 + theta)
    elif name == "pentagon":
        pts = _regular(5, cx, cy, r, -math.pi / 2 + theta)
    elif name == "hexagon":
        pts = _regular(6, cx, cy, r, theta)
    elif name == "star":
        outer = _regular(5, cx, cy, r, -math.pi / 2 + theta)
        inner = _regular(5, cx, cy, 0.45 * r, -math.pi / 2 + math.pi / 5 + theta)
        pts = np.stack([outer, inner], axis=1).reshape(-1, 2)
    elif name == "cross":
        a, b = r * 0.33, r * 0.9
        local = np.array([(-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a),
                          (a, b), (-a, b), (-a, a), (-b, a), (-b, -a), (-a, -a)], dtype=np.float64)
        pts = _rotate(local, cx, cy, theta)
    elif name == "field":
        w, h = r * 0.95, r * (0.5 + 0.45 * abs(math.sin(3 * theta)))
        local = np.array([(-w, -h), (w, -h), (w, h), (-w, h)], dtype=np.float64)
        pts = _rotate(local, cx, cy, theta)
    else:
        raise ValueError(f"unknown shape {name!r}")
    return np.rint(pts).astype(np.int32)


def fill(poly: np.ndarray, height: int, width: int) -> np.ndarray:
    """The boolean mask of a polygon, exactly as the generators draw it."""
    canvas = np.zeros((height, width), np.uint8)
    cv2.fillPoly(canvas, [poly.reshape(-1, 1, 2).astype(np.int32)], 1, lineType=cv2.LINE_8)
    return canvas.astype(bool)


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A muted two-colour gradient with blurred noise blobs and grain (BGR uint8)."""
    a = rng.uniform(70, 150, 3)
    b = rng.uniform(70, 150, 3)
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / max(size - 1, 1)
    t = np.clip(0.5 + (xx - 0.5) * math.cos(angle) + (yy - 0.5) * math.sin(angle), 0, 1)[..., None]
    img = a * (1 - t) + b * t
    blobs = cv2.GaussianBlur(rng.normal(0, 30, (size, size)), (0, 0), max(size / 16, 1.0))
    return img + blobs[..., None]


def place(
    rng: np.random.Generator, size: int, count: int, r_range: tuple[float, float],
) -> list[tuple[float, float, float]]:
    """Up to `count` non-overlapping circles (cx, cy, r) inside the image, at least GAP pixels apart."""
    placed: list[tuple[float, float, float]] = []
    for _ in range(count):
        for _ in range(MAX_TRIES):
            r = float(rng.uniform(*r_range))
            cx = float(rng.uniform(r + 1, size - 2 - r))
            cy = float(rng.uniform(r + 1, size - 2 - r))
            if all(math.hypot(cx - x, cy - y) >= r + q + GAP for x, y, q in placed):
                placed.append((cx, cy, r))
                break
    return placed


def scene(
    seed: int, index: int, size: int, classes: int, *, objects: tuple[int, int], first: int | None = None,
) -> tuple[np.ndarray, list[Shape]]:
    """Image `index` of a seed: a textured background with 1..n shapes; `first` forces the first shape's class."""
    rng = np.random.default_rng([seed, index])
    names = class_names(classes)
    colours = dict(CATALOGUE)
    img = background(rng, size)
    count = int(rng.integers(objects[0], objects[1] + 1))
    single = objects[1] == 1
    r_range = (0.22 * size, 0.38 * size) if single else (max(4.0, 0.1 * size), max(5.0, 0.2 * size))
    shapes: list[Shape] = []
    for k, (cx, cy, r) in enumerate(place(rng, size, count, r_range)):
        cls = first if k == 0 and first is not None else int(rng.integers(classes))
        theta = float(rng.uniform(-math.pi / 12, math.pi / 12))
        poly = polygon(names[cls], cx, cy, r, theta)
        mask = fill(poly, size, size)
        colour = np.clip(np.array(colours[names[cls]], np.float64) + rng.uniform(-20, 20, 3), 0, 255)
        img[mask] = colour
        shapes.append(Shape(cls, poly, mask))
    img = img + rng.normal(0, 5, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), shapes


def ring(mask: np.ndarray, width: int) -> np.ndarray:
    """The pixels within `width` (1 or 2) pixels outside a mask (8-neighbourhood dilation)."""
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool) & ~mask
