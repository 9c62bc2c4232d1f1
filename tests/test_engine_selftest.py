"""The engine's start-up self-test: PNG decoding after `import paddle`, with a watchdog for hangs."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from pdxsrv.engine import selftest
from pdxsrv.engine.base import EngineError


def test_decoding_works_with_paddle_loaded_in_a_fresh_process() -> None:
    code = ("from pdxsrv.engine import selftest; selftest.preload(); import paddle; "
            "selftest.check(); print('decoded')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "decoded" in proc.stdout, proc.stderr[-2000:]


def test_a_hanging_decoder_becomes_an_error_naming_the_clash() -> None:
    never = threading.Event()
    with pytest.raises(EngineError, match="hung for 0.2 s.*zlib"):
        selftest.check(never.wait, timeout=0.2)
    never.set()


def test_a_failing_decoder_becomes_an_error_with_its_cause() -> None:
    def broken() -> None:
        raise OSError("invalid block type")

    with pytest.raises(EngineError, match="invalid block type"):
        selftest.check(broken)
