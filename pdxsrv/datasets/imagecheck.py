"""A fast structural check of JPEG, PNG and BMP files: size and bands from the header, and the end marker.

Reading the header and the last bytes (tens of microseconds) instead of decoding (hundreds)
catches what goes wrong with image files in practice: not an image, a wrong extension, a file
cut short by a failed copy or download. Formats without a fast path return None (decode them).

* JPEG: SOI, then markers up to the first SOFn (height, width, components); the file must end
  with EOI (FFD9) within its last 1 KiB (cameras may pad after it).
* PNG: the signature, IHDR (width, height, colour type), and the IEND chunk at the end.
* BMP: `BM`, the DIB header's width, height and bit count; the file is as long as it says.
"""

from __future__ import annotations

import os
import struct

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
PNG_BANDS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> bands as Pillow counts them (palette: 1)
SOF_MARKERS = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
TAIL = 1024


class BadImage(ValueError):
    """The file is not a whole image of the format its content claims."""


def probe(path: str) -> tuple[int, int, int] | None:
    """(width, height, bands) of a JPEG, PNG or BMP file after checking its structure; None for other formats."""
    with open(path, "rb") as f:
        head = f.read(64 * 1024)
        size = os.fstat(f.fileno()).st_size
        f.seek(max(0, size - TAIL))
        tail = f.read()
    if head.startswith(b"\xff\xd8"):
        return _jpeg(head, tail)
    if head.startswith(PNG_SIGNATURE):
        return _png(head, tail)
    if head.startswith(b"BM") and len(head) >= 30:
        return _bmp(head, size)
    return None


def _jpeg(head: bytes, tail: bytes) -> tuple[int, int, int]:
    if b"\xff\xd9" not in tail:
        raise BadImage("truncated: the JPEG data has no end-of-image marker")
    position = 2
    while position + 4 <= len(head):
        if head[position] != 0xFF:
            raise BadImage(f"JPEG marker expected at byte {position}")
        marker = head[position + 1]
        if marker == 0xFF:
            position += 1
            continue
        length = struct.unpack_from(">H", head, position + 2)[0]
        if marker in SOF_MARKERS:
            if position + 10 > len(head):
                break
            height, width = struct.unpack_from(">HH", head, position + 5)
            components = head[position + 9]
            if not width or not height:
                raise BadImage("JPEG frame has no size")
            return width, height, components
        position += 2 + length
    raise BadImage("JPEG has no frame header in its first 64 KiB")


def _png(head: bytes, tail: bytes) -> tuple[int, int, int]:
    if len(head) < 33 or head[12:16] != b"IHDR":
        raise BadImage("PNG has no IHDR header")
    if not tail.endswith(PNG_IEND):
        raise BadImage("truncated: the PNG data has no IEND chunk at the end")
    width, height = struct.unpack_from(">II", head, 16)
    colour = head[25]
    if not width or not height or colour not in PNG_BANDS:
        raise BadImage(f"PNG header is invalid ({width}x{height}, colour type {colour})")
    return width, height, PNG_BANDS[colour]


def _bmp(head: bytes, size: int) -> tuple[int, int, int]:
    declared = struct.unpack_from("<I", head, 2)[0]
    width, height = struct.unpack_from("<ii", head, 18)
    bits = struct.unpack_from("<H", head, 28)[0]
    if declared and declared > size:
        raise BadImage(f"truncated: the BMP has {size} of its {declared} bytes")
    if width <= 0 or height == 0:
        raise BadImage(f"BMP header is invalid ({width}x{height})")
    return width, abs(height), 1 if bits <= 8 else (4 if bits == 32 else 3)
