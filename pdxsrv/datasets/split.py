"""Seeded, stratified train/val/test split (pure; the same seed gives the same split everywhere).

Images are sorted first, then shuffled with Python's `random.Random(seed)` (Mersenne Twister,
whose sequence for an integer seed is fixed), so the split depends only on the image names, the
ratios and the seed. With `classes` (image -> class, for types whose classes are per image) each
class is split on its own, so every class keeps its share in train, val and test.
"""

from __future__ import annotations

import random
from collections import defaultdict

from pdxsrv.domain.errors import InvalidArgument

DEFAULT_SEED = 2026


def split(
    images: list[str], val_split: float, test_split: float, seed: int = DEFAULT_SEED,
    classes: dict[str, str] | None = None,
) -> dict[str, list[str]]:
    """{"train", "val", "test"} image lists; train and val are never empty (else InvalidArgument)."""
    if not 0 < val_split < 1 or not 0 <= test_split < 1 or val_split + test_split >= 1:
        raise InvalidArgument(
            f"val_split {val_split} and test_split {test_split} must be fractions with 0 < val_split, "
            "0 <= test_split and val_split + test_split < 1 (the rest is the training set)"
        )
    if len(images) < 2:
        raise InvalidArgument(f"the dataset has {len(images)} image(s); a split needs at least 2 (one to train, one to validate)")
    rng = random.Random(seed)
    group_of = (lambda image: classes.get(image, "")) if classes else (lambda image: "")
    groups: dict[str, list[str]] = defaultdict(list)
    for image in sorted(images):
        groups[group_of(image)].append(image)
    parts: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for name in sorted(groups):
        members = groups[name]
        rng.shuffle(members)
        n_val, n_test = round(len(members) * val_split), round(len(members) * test_split)
        if n_val + n_test >= len(members):  # keep at least one image of the class to train on
            n_test = max(0, min(n_test, len(members) - 1 - n_val))
            n_val = min(n_val, len(members) - 1 - n_test)
        parts["val"] += members[:n_val]
        parts["test"] += members[n_val : n_val + n_test]
        parts["train"] += members[n_val + n_test :]
    if not parts["val"] and parts["test"]:  # every class rounded to 0: a test image validates instead
        parts["val"].append(parts["test"].pop())
    elif not parts["val"]:  # no test images either: move a training image of the largest class
        training = defaultdict(list)
        for image in parts["train"]:
            training[group_of(image)].append(image)
        donor = max(sorted(training), key=lambda g: len(training[g]))
        parts["train"].remove(training[donor][-1])
        parts["val"].append(training[donor][-1])
    return {part: sorted(members) for part, members in parts.items()}
