"""Every shell example of the README runs as written, in order, against a live server, and answers what its
comment says.

Extraction rules (docs/design-notes.md, "README examples that run"):
* ```bash / ```sh blocks are examples; each line (with `\\` continuations) is one command, run by bash in a
  directory holding the server's workspace as `./ws`. A block right after `<!-- not run: REASON -->` is skipped.
  Command synopses (placeholders, `[--options]`) are written as ```text blocks, not as examples.
* `localhost:8080` and `127.0.0.1:8080` become the test server's address, `/tmp/pdxsrv` a directory of the
  test's own (allowed with --allow-path); nothing else is changed.
* A curl answer must be `"status": 1` (unless its comment says `"status": -1`), and hold every `"key": value`
  its comment writes (anywhere in the answer; `"key": ...` only asks for the key). `"key": 4 (NAME)` must name
  that value of the key's enum (pdxsrv.api.status_codes). A query (`-X GET`) whose comment expects values is
  asked again until it answers them: jobs take a while.
* `curl -N` streams: it runs until it has printed events, then is stopped as Ctrl-C would.
* Other commands must exit 0.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from pdxsrv.api.status_codes import FIELDS
from tests.conftest import PYTHON, Server

README = Path(__file__).resolve().parent.parent / "README.md"
SHELLS = ("bash", "sh")
NOT_RUN = re.compile(r"<!-- not run: (.+?) -->")
FRAGMENT = re.compile(r'"(\w+)": (-?\d+(?:\.\d+)?|true|false|null|"[^"]*"|\.\.\.)')
NAMED = re.compile(r'"(\w+)": (-?\d+) \((\w+)\)')
POLL_TIMEOUT = 240.0  # seconds a query may take to answer what its comment expects (a job's end)
OUTPUT_CHECKS = {  # what some commands' output holds besides their exit status 0
    "pdxsrv events list": "task.",
    "pdxsrv weights list": "ResNet18",
    "pdxsrv supervisor status": "T0001",
}


@dataclass(frozen=True)
class Example:
    """One command of a README shell block, with its comment."""

    line: int
    command: str
    comment: str


def blocks(text: str) -> Iterator[tuple[int, str, list[str], str | None]]:
    """(first line number, language, lines, not-run reason) of every fenced block."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        reason = NOT_RUN.search(previous)
        end = lines.index("```", i + 1)
        yield i + 2, fence.group(1), lines[i + 1:end], reason.group(1) if reason else None
        i = end + 1


def split_comment(line: str) -> tuple[str, str]:
    """(command, comment) of a shell line: the comment starts at a `#` after a blank, outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), ""


def examples(text: str) -> list[Example]:
    """The commands of the README's shell blocks that run, in order."""
    found = []
    for first, language, lines, reason in blocks(text):
        if language not in SHELLS or reason:
            continue
        pending, start = "", 0
        for number, line in enumerate(lines, first):
            if not pending:
                start = number
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            command, comment = split_comment(pending + line)
            pending = ""
            if command.strip():
                found.append(Example(start, command.strip(), comment))
    return found


def rewrite(command: str, port: int, data: str) -> str:
    """The command against the test's server and directory."""
    for host in ("localhost:8080", "127.0.0.1:8080"):
        command = command.replace(host, f"127.0.0.1:{port}")
    return command.replace("/tmp/pdxsrv", data)


def values(answer: Any, key: str) -> list[Any]:
    """Every value of `key` anywhere in `answer`."""
    found = []
    if isinstance(answer, dict):
        for k, v in answer.items():
            if k == key:
                found.append(v)
            found += values(v, key)
    elif isinstance(answer, list):
        for item in answer:
            found += values(item, key)
    return found


def expectations(comment: str) -> list[tuple[str, Any]]:
    """The `"key": value` fragments of a comment (value `...`: the key is there); the answer's status apart."""
    wanted = []
    for key, text in FRAGMENT.findall(comment):
        if key == "status" and text in ("1", "-1"):
            continue
        wanted.append((key, ... if text == "..." else json.loads(text)))
    return wanted


def unmet(answer: Any, comment: str) -> list[str]:
    """What the answer lacks of what the comment says."""
    problems = []
    status = -1 if '"status": -1' in comment else 1
    if not isinstance(answer, dict) or answer.get("status") != status:
        return [f'"status": {status}']
    for key, value in expectations(comment):
        found = values(answer, key)
        if not found or value is not ... and value not in found:
            problems.append(f'"{key}": {value!r} (found {found})')
    return problems


def check_names(comment: str) -> None:
    """`"key": N (NAME)`: NAME is N's name in the key's enum (any coded enum for the nested `status`)."""
    for key, number, name in NAMED.findall(comment):
        candidates = [FIELDS[key]] if key in FIELDS else list(FIELDS.values())
        names = {m.name for c in candidates for m in c.values() if int(m) == int(number)}
        assert name in names, f"{comment!r}: {key} {number} is {sorted(names)}, not {name}"


def failed_job(answer: Any) -> bool:
    """Whether a status in the answer says a job failed (no use waiting)."""
    for key in ("dataset_status", "task_status", "prune_status", "export_status", "predict_status"):
        failing = {int(m) for m in FIELDS[key].values() if "FAIL" in m.name}
        if any(value in failing for value in values(answer, key)):
            return True
    return False


def is_query(command: str) -> bool:
    """A read: `-X GET`, or curl without a method or a body."""
    return "-X GET" in command or ("-X " not in command and " -d " not in command)


class Runner:
    """Runs the examples in a directory (the workspace is `./ws` there) against a server."""

    def __init__(self, server: Server, base: Path, data: Path) -> None:
        self.server, self.base, self.data = server, base, str(data)
        bin_dir = os.path.dirname(sys.executable)
        self.env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
                    "XDG_CACHE_HOME": str(base / "cache")}
        self.log: list[str] = []

    def shell(self, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", command], cwd=self.base, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def run(self, example: Example) -> None:
        command = rewrite(example.command, self.server.port, self.data)
        began = time.monotonic()
        where = f"README line {example.line}: {example.command}"
        if command.startswith("curl -N"):
            self.stream(command, where)
        elif command.startswith("curl"):
            self.curl(command, example.comment, where)
        else:
            done = self.shell(command)
            assert done.returncode == 0, f"{where}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}"
            for prefix, text in OUTPUT_CHECKS.items():
                if command.startswith(prefix):
                    assert text in done.stdout, f"{where}: {text!r} not in\n{done.stdout}"
        self.log.append(f"{time.monotonic() - began:6.1f}s  {example.command[:100]}")

    def curl(self, command: str, comment: str, where: str) -> None:
        check_names(comment)
        poll = is_query(command) and expectations(comment)
        deadline = time.monotonic() + POLL_TIMEOUT
        while True:
            done = self.shell(command)
            assert done.returncode == 0, f"{where}\ncurl exit {done.returncode}: {done.stderr}"
            try:
                answer = json.loads(done.stdout)
            except ValueError:
                raise AssertionError(f"{where}\nnot JSON: {done.stdout[:500]}") from None
            problems = unmet(answer, comment)
            if not problems:
                return
            if not poll or time.monotonic() > deadline or failed_job(answer):
                raise AssertionError(f"{where}\nexpected {problems}\ngot {json.dumps(answer)[:2000]}\n"
                                     f"server log:\n{self.server.stderr()[-3000:]}")
            time.sleep(0.5)

    def stream(self, command: str, where: str) -> None:
        """Run a streaming command until it has printed events (or 10 s), then interrupt it as Ctrl-C does."""
        proc = subprocess.Popen(["bash", "-c", command], cwd=self.base, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=ctrl_c_ends)
        try:
            time.sleep(3)
            os.killpg(proc.pid, signal.SIGINT)
            out, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert "event: " in out and "data: " in out and "T0001" in out, f"{where}\nno events: {out[:500]} {err}"


def ctrl_c_ends() -> None:
    """In the child: Ctrl-C ends it, as in a user's terminal, even when the tests run from a background job
    (a non-interactive shell starts `cmd &` with SIGINT ignored, and the ignore is inherited through exec)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_the_extraction_rules_hold() -> None:
    """The README opens with the two commands; every shell block runs except a few, each with its reason."""
    text = README.read_text()
    first = next(blocks(text))
    assert text.splitlines()[0] == "# pdxsrv" and first[0] <= 6, "the README opens with its commands"
    assert first[2][0].startswith("pip install -e . && pdxsrv serve"), first
    assert first[2][1].startswith("pip install -e '.[test]' && pytest"), first
    skipped = [(n, reason) for n, language, _, reason in blocks(text) if language in SHELLS and reason]
    assert len(skipped) <= 3 and all(len(reason) > 10 for _, reason in skipped), skipped
    found = examples(text)
    assert len(found) >= 30, len(found)
    for example in found:  # synopses are ```text, not examples
        assert not re.search(r"\[--|\bDIR\b|\{\.\.\.\}", example.command), example
    assert not [e for e in found if e.command.startswith("curl") and " -d " in e.command and "-X " not in e.command]


def test_the_checks_catch_what_a_comment_gets_wrong() -> None:
    assert unmet({"status": 1, "prune_status": 1}, '"prune_status": 2 (XSPRUNEDONE) when done')
    ready = {"status": 1, "attr": {"status": 3, "progress": 100.0}}
    assert not unmet(ready, '{"attr": {"status": 3 (XDDECOMPRESSED), "progress": 100.0}}')
    assert unmet({"status": -1, "message": "POST is not allowed"}, "the training log")
    assert unmet({"status": 1, "tid": "T0002"}, '{"status": 1, "tid": "T0001"}')
    (missing,) = unmet({"status": 1, "did": "D0002"}, '{"status": 1, "did": ..., "pid": ...}')
    assert missing.startswith('"pid"')
    with pytest.raises(AssertionError, match="XSPRUNEDONE"):
        check_names('"prune_status": 2 (XSPRUNEFAIL)')
    check_names('"export_status": 7 (XEXPORTED), "exported_type": 0 (inference)')
    (old,) = examples("```bash\ncurl -s localhost:8080/project/task/prune -d '{\"tid\": \"T0001\"}'  # done?\n```\n")
    assert not is_query(old.command), "a body without -X GET is a POST"
    assert examples("<!-- not run: a reason given here -->\n```bash\nrm -rf /\n```\n") == []


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's examples use curl")
def test_the_readme_examples_run_and_answer_what_they_say(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    server = Server(str(tmp_path / "ws"), "--allow-path", str(data), supervise=True)
    runner = Runner(server, tmp_path, data)
    try:
        for example in examples(README.read_text()):
            runner.run(example)
    finally:
        print("\n".join(runner.log))
        server.stop()
        server.shutdown_supervisor()


@functools.lru_cache(maxsize=None)
def help_text(words: tuple[str, ...]) -> str:
    return subprocess.run([PYTHON, "-m", "pdxsrv", *words, "--help"], capture_output=True, text=True,
                          timeout=60).stdout


def help_of(words: list[str]) -> str:
    """`pdxsrv <words> --help`."""
    return help_text(tuple(words))


def test_the_options_the_readme_names_exist() -> None:
    """Every `--option` on a README line that runs `pdxsrv <command>`, and every serve option it lists, is in that
    command's --help."""
    text = README.read_text()
    checked = 0
    for line in text.splitlines():
        for match in re.finditer(r"\bpdxsrv ((?:[a-z][a-z-]* ?){1,2})(.*)", line):
            words = match.group(1).split()
            top = help_of([])
            if not words or words[0] not in re.search(r"\{([\w,-]+)\}", top).group(1).split(","):
                continue
            sub = re.search(r"\{([\w,-]+)\}", help_of(words[:1]))
            command = tuple(words[:2] if sub and len(words) > 1 and words[1] in sub.group(1).split(",") else words[:1])
            usage = help_of(list(command))
            tail = re.split(r"`|\s#\s", match.group(2))[0]
            for option in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", tail):
                assert option in usage, f"README: {line.strip()!r}: `pdxsrv {' '.join(command)}` has no {option}"
                checked += 1
    serve = help_of(["serve"])
    serving = text[text.index("## Serving"):text.index("## Pretrained weights")]
    for option in re.findall(r"^\* `(--[a-z][\w-]*)", serving, re.M):
        assert option in serve, f"README's Serving lists {option}, which `pdxsrv serve --help` lacks"
        checked += 1
    assert checked >= 25, checked
