"""Classification generators: ImageNet-style class folders of shapes (`folders`) or upscaled sklearn digits."""

from __future__ import annotations

import cv2
import numpy as np

from pdxsrv.datasets.synthetic_common import (
    Manifest, Options, image_name, split_paths, write_image, write_lists, write_text,
)
from pdxsrv.datasets.synthetic_draw import class_names, scene

DIGITS_SALT = 31


def _digits(opts: Options) -> tuple[list[str], list[np.ndarray]]:
    """Labels '0'..'K-1' and one upscaled grey-on-black digit (as BGR) per image."""
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.default_rng([opts.seed, DIGITS_SALT]).permutation(len(data.target))
    pools = {c: [int(k) for k in order if data.target[k] == c] for c in range(opts.classes)}
    out: list[np.ndarray] = []
    for i in range(opts.images):
        c = i % opts.classes
        pool = pools[c]
        small = data.images[pool[(i // opts.classes) % len(pool)]] * (255.0 / 16.0)
        big = cv2.resize(small, (opts.size, opts.size), interpolation=cv2.INTER_CUBIC)
        noise = np.random.default_rng([opts.seed, i]).normal(0, 4, big.shape)
        grey = np.clip(np.rint(big + noise), 0, 255).astype(np.uint8)
        out.append(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    return [str(c) for c in range(opts.classes)], out


def _shapes(opts: Options) -> tuple[list[str], list[np.ndarray]]:
    """Sorted shape names and one image per index with a single shape of class index % classes."""
    labels = class_names(opts.classes)
    imgs = [scene(opts.seed, i, opts.size, opts.classes, objects=(1, 1), first=i % opts.classes)[0]
            for i in range(opts.images)]
    return labels, imgs


def generate(opts: Options) -> Manifest:
    """Write `<class>/<image>` folders (+ labels.txt and lists when presplit); image i has class i % classes."""
    labels, imgs = _digits(opts) if opts.fmt == "digits" else _shapes(opts)
    man = Manifest(opts.kind, opts.fmt, labels, [], {name: 0 for name in labels}, tricky=opts.tricky)
    for i, img in enumerate(imgs):
        label = labels[i % len(labels)]
        name = image_name(i, opts.tricky, nested=True)
        rel = name.rel(label)
        write_image(opts.root, rel, img)
        if not name.accepted:
            man.skipped.append(rel)
            continue
        man.images.append(rel)
        man.annotations[rel] = label
        man.per_class[label] += 1
    if opts.tricky:
        write_image(opts.root, "stray.jpg", imgs[0])
        man.skipped.append("stray.jpg")
    if opts.presplit:
        man.split = split_paths(man.images, opts.seed)
        write_text(opts.root, "labels.txt", labels)
        write_lists(opts.root, man.split, {p: str(labels.index(man.annotations[p])) for p in man.images})
    return man
