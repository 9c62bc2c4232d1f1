"""Start-up self-test of an engine process: image decoding still works once paddle is imported.

On paddle 2.6 `libpaddle.so` exported its own zlib; a library that loaded zlib after `import paddle`
(PIL's PNG codec, pycocotools, scipy) crashed or, in a data-loading thread, hung training forever
with no error. paddle 3.3.1 has not shown it, but engine jobs still import zlib and PIL's C module
first (`preload`, the workaround) and, with paddle loaded, run `check()`: PNGs encoded and decoded
by PIL and OpenCV and a zlib round trip, on a watchdog thread, so a hang becomes an error that
names its cause instead of a job that never ends.
"""

from __future__ import annotations

import io
import threading
import zlib
from typing import Callable

import numpy as np

from pdxsrv.engine.base import EngineError

TIMEOUT_S = 30.0


def preload() -> None:
    """Load zlib and PIL's C codecs before paddle (the import-order workaround)."""
    import PIL._imaging  # noqa: F401


def decode_roundtrip() -> None:
    """Encode and decode a PNG with PIL and with OpenCV, and round-trip bytes through zlib."""
    import cv2
    from PIL import Image

    image = (np.arange(32 * 32 * 3, dtype=np.uint32) % 251).astype(np.uint8).reshape(32, 32, 3)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    if not np.array_equal(np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")), image):
        raise ValueError("PIL decoded a PNG differently from what it encoded")
    ok, png = cv2.imencode(".png", image)
    if not ok or not np.array_equal(cv2.imdecode(png, cv2.IMREAD_UNCHANGED), image):
        raise ValueError("OpenCV decoded a PNG differently from what it encoded")
    if zlib.decompress(zlib.compress(image.tobytes())) != image.tobytes():
        raise ValueError("zlib did not round-trip")


def check(probe: Callable[[], None] = decode_roundtrip, timeout: float = TIMEOUT_S) -> None:
    """Run `probe` on a watchdog thread; EngineError if it fails or does not finish within `timeout` s."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            probe()
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=target, name="pdxsrv-selftest", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise EngineError(f"start-up self-test: image decoding hung for {timeout:g} s after importing paddle "
                          "(a zlib symbol clash between paddle and PIL/OpenCV); reinstall the pinned versions")
    if failure:
        raise EngineError(f"start-up self-test: image decoding failed after importing paddle: {failure[0]!r} "
                          "(a zlib symbol clash between paddle and PIL/OpenCV); reinstall the pinned versions")
