"""A `pdxsrv` command whose reader stops early (`| head`) ends quietly, as other command-line tools do."""

from __future__ import annotations

import subprocess

from tests.conftest import PYTHON


def test_a_closed_pipe_ends_a_command_without_an_error_message(tmp_path) -> None:
    err = tmp_path / "err.txt"
    command = f"'{PYTHON}' -m pdxsrv weights list 2>'{err}' | true"  # `true` reads nothing and exits at once
    subprocess.run(["bash", "-c", command], check=True, timeout=120)
    assert err.read_text() == ""
    listed = subprocess.run([PYTHON, "-m", "pdxsrv", "weights", "list"], capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and listed.stdout  # unpiped, the same command prints its table
