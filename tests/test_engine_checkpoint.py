"""Checkpoints are atomic: a process killed at any moment of a save never leaves a half-written one."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import paddle

from pdxsrv.engine import checkpoint

SAVER = """
import sys, paddle
from pdxsrv.engine import checkpoint
paddle.seed(0)
model = paddle.nn.Sequential(paddle.nn.Linear(64, 256), paddle.nn.Linear(256, 64))
opt = paddle.optimizer.Adam(parameters=model.parameters())
i = 0
print("ready", flush=True)
while True:
    i += 1
    checkpoint.save(sys.argv[1], f"epoch_{i % 3}", model, opt, {"epoch": i})
    checkpoint.copy(sys.argv[1], f"{sys.argv[1]}/epoch_{i % 3}", checkpoint.BEST)
"""


def _whole(path: str) -> None:
    meta = checkpoint.read_meta(path)
    assert isinstance(meta["epoch"], int)
    weights = paddle.load(os.path.join(path, checkpoint.WEIGHTS))
    assert len(weights) == 4
    assert isinstance(paddle.load(os.path.join(path, checkpoint.OPTIMIZER)), dict)


def test_a_save_killed_at_random_moments_leaves_only_whole_checkpoints(tmp_path) -> None:
    output = str(tmp_path / "output")
    rng = random.Random(7)
    for _ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, output], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        checkpoint.recover(output)
        names = os.listdir(output)
        assert not [n for n in names if n.startswith((".tmp-", ".old-"))]
        for name in names:
            _whole(os.path.join(output, name))
    assert checkpoint.BEST in os.listdir(output)


def test_recover_restores_a_replaced_checkpoint_whose_successor_never_landed(tmp_path) -> None:
    output = tmp_path / "output"
    model = paddle.nn.Linear(2, 2)
    checkpoint.save(str(output), "best_model", model, None, {"epoch": 1})
    os.rename(output / "best_model", output / ".old-best_model-123")  # killed between the two renames
    os.makedirs(output / ".tmp-best_model-123")
    checkpoint.recover(str(output))
    assert sorted(os.listdir(output)) == ["best_model"]
    assert checkpoint.read_meta(str(output / "best_model"))["epoch"] == 1
