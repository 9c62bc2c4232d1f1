"""The split is seeded, stratified, complete and disjoint, and never leaves train or val empty."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pdxsrv.datasets.split import split
from pdxsrv.domain.errors import InvalidArgument


@settings(max_examples=200, deadline=None)
@given(n=st.integers(2, 300), k=st.integers(1, 6), val=st.floats(0.05, 0.5), test=st.floats(0, 0.3),
       seed=st.integers(0, 2**32))
def test_every_image_lands_in_exactly_one_part_and_train_and_val_are_never_empty(n, k, val, test, seed) -> None:
    images = [f"c{i % k}/img_{i:04d}.jpg" for i in range(n)]
    classes = {image: image.split("/")[0] for image in images}
    parts = split(images, val, test, seed, classes)
    assert sorted(parts["train"] + parts["val"] + parts["test"]) == sorted(images)
    assert parts["train"] and parts["val"]
    assert split(list(reversed(images)), val, test, seed, classes) == parts, "input order does not matter"


def test_stratified_by_class() -> None:
    images = [f"a/{i}.jpg" for i in range(80)] + [f"b/{i}.jpg" for i in range(20)]
    parts = split(images, 0.2, 0.1, 7, {i: i[0] for i in images})
    assert sum(i.startswith("a/") for i in parts["val"]) == 16 and sum(i.startswith("b/") for i in parts["val"]) == 4
    assert sum(i.startswith("b/") for i in parts["test"]) == 2


def test_the_same_seed_gives_the_same_split_in_another_process() -> None:
    images = [f"img_{i}.jpg" for i in range(50)]
    here = split(images, 0.2, 0.1, 12345)
    code = ("import json,sys; from pdxsrv.datasets.split import split; "
            "print(json.dumps(split([f'img_{i}.jpg' for i in range(50)], 0.2, 0.1, 12345)))")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "99", "PATH": ""}).stdout
    assert __import__("json").loads(there) == here
    assert split(images, 0.2, 0.1, 12346) != here


@pytest.mark.parametrize("val,test", [(0, 0.1), (0.5, 0.5), (1.2, 0), (0.2, -0.1)])
def test_bad_ratios_are_refused(val, test) -> None:
    with pytest.raises(InvalidArgument):
        split(["a.jpg", "b.jpg"], val, test)


def test_one_image_cannot_be_split() -> None:
    with pytest.raises(InvalidArgument) as info:
        split(["a.jpg"], 0.2, 0)
    assert "at least 2" in info.value.message
