"""The structural image check agrees with Pillow on sizes and bands, and refuses cut or fake files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pdxsrv.datasets.imagecheck import BadImage, probe


@pytest.mark.parametrize("fmt,mode,options", [
    ("JPEG", "RGB", {}), ("JPEG", "L", {}), ("JPEG", "RGB", {"progressive": True}), ("JPEG", "CMYK", {}),
    ("PNG", "RGB", {}), ("PNG", "L", {}), ("PNG", "RGBA", {}), ("PNG", "P", {}), ("PNG", "LA", {}),
    ("BMP", "RGB", {}), ("BMP", "L", {}),
])
def test_sizes_and_bands_match_pillow(tmp_path, fmt: str, mode: str, options: dict) -> None:
    path = str(tmp_path / f"x.{fmt.lower()}")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (37, 53, 3), dtype=np.uint8)).convert(mode).save(
        path, fmt, **options)
    with Image.open(path) as im:
        assert probe(path) == (im.size[0], im.size[1], len(im.getbands()))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP"])
def test_a_cut_file_is_refused(tmp_path, fmt: str) -> None:
    path = str(tmp_path / "x.img")
    Image.new("RGB", (40, 30), (10, 200, 30)).save(path, fmt)
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) * 2 // 3])
    with pytest.raises(BadImage) as info:
        probe(path)
    assert "truncated" in str(info.value)


def test_padding_after_the_jpeg_end_is_accepted_and_other_files_are_left_to_a_decoder(tmp_path) -> None:
    path = str(tmp_path / "x.jpg")
    Image.new("RGB", (20, 10)).save(path, "JPEG")
    with open(path, "ab") as f:
        f.write(b"\0" * 100)
    assert probe(path) == (20, 10, 3)
    text = tmp_path / "fake.jpg"
    text.write_text("not an image at all")
    assert probe(str(text)) is None  # not a JPEG/PNG/BMP: the caller decodes it (and fails)
