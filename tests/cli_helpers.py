"""Running ``python -m compare`` as a user would: a subprocess from the repository root.

Each run that trains pays about 5 s before its first step (importing torch, and
``torch.optim.SGD`` importing ``torch._dynamo``), so tests/test_cli.py shares runs
through module-scoped fixtures.
"""
from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import socket
import struct
import subprocess
import sys
import termios
import threading
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EMBEDDED = REPO / "common" / "embedded"
PROG = "python -m compare"
# A run of a few steps' worth of seconds that still checks the backends three times (steps 0, 100, 200).
SMALL = ("--train-limit", "300", "--test-limit", "50", "--check-every", "100")
TIMEOUT_S = 120


@dataclass(frozen=True, repr=False)
class Finished:
    """A run that has ended: its exit code and what it printed."""

    code: int
    stdout: str
    stderr: str

    def __repr__(self) -> str:  # what pytest shows beside a failed assertion about the run
        return f"exit {self.code}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


@dataclass(frozen=True)
class Outcome:
    """A finished run and the folder its --json (record.json), --save and --plot went into."""

    run: Finished
    folder: Path

    def record(self) -> dict:
        return read_json(self.folder / "record.json")


def outcome(folder: Path, *options: object, env: dict | None = None) -> Outcome:
    """Run with ``options`` and --json into ``folder``."""
    return Outcome(run_compare(*options, "--json", folder / "record.json", env=env), folder)


def exited(outcome: Outcome, code: int) -> Outcome:
    assert outcome.run.code == code, outcome.run
    return outcome


def start(*options: object, env: dict[str, str] | None = None, **popen) -> subprocess.Popen:
    """``python -m compare OPTIONS`` in the background, stdout and stderr piped unless given."""
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([sys.executable, "-m", "compare", *map(str, options)], cwd=REPO,
                            env=environment(env), text=True, **popen)


def finish(process: subprocess.Popen, timeout: float = TIMEOUT_S) -> Finished:
    stdout, stderr = process.communicate(timeout=timeout)
    return Finished(process.returncode, stdout, stderr or "")


def run_compare(*options: object, env: dict[str, str] | None = None, timeout: float = TIMEOUT_S) -> Finished:
    return finish(start(*options, env=env), timeout)


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment, plus ``extra``."""
    env = dict(os.environ)
    env.update(extra or {})
    return env


def offline_environment(cache: Path) -> dict[str, str]:
    """The download cache in ``cache``, and every download refused at once: urllib's proxy is a
    port that was free a moment ago and is closed now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{s.getsockname()[1]}"
    return {"NUMPY_TORCH_TWINS_CACHE": str(cache), "http_proxy": proxy, "https_proxy": proxy,
            "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "no_proxy": "", "NO_PROXY": ""}


def read_json(path: Path) -> dict:
    assert Path(path).is_file(), f"{path} was not written"
    return json.loads(Path(path).read_text())


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, to show that a run wrote nothing there."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def table_rows(report: str, first_cell: str) -> list[list[str]]:
    """The whitespace-separated cells of each report line whose first cell is ``first_cell``."""
    return [line.split() for line in report.splitlines() if line.split()[:1] == [first_cell]]


def percent(cell: str) -> float:
    """``"83.40%"`` -> 0.834."""
    return float(cell.rstrip("%")) / 100


class Terminal:
    """A pseudo-terminal, 120 columns wide, for a child's stderr: pass ``child_end`` to the child,
    then :meth:`detach`. What the child writes is read on a thread (so the child never blocks)."""

    def __init__(self) -> None:
        self.reader, self.child_end = pty.openpty()
        # A new pty is 0 columns wide, and tqdm draws nothing in 0 columns.
        fcntl.ioctl(self.child_end, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
        self.text, self.ended, self.changed = "", False, threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def detach(self) -> None:
        """Close this process's copy of the child's end, so that reading ends when the child exits."""
        os.close(self.child_end)

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.reader, 4096)
            except OSError:  # EIO: every copy of the child's end is closed
                chunk = b""
            with self.changed:
                self.text += chunk.decode("utf-8", "replace")
                self.ended = not chunk
                self.changed.notify_all()
            if not chunk:
                return

    def wait_for(self, pattern: str, timeout: float) -> re.Match | None:
        """The first match of ``pattern`` once it appears; None if the output ends or time runs out first."""
        with self.changed:
            self.changed.wait_for(lambda: self.ended or re.search(pattern, self.text), timeout)
            return re.search(pattern, self.text)

    def close(self) -> str:
        """Everything the child wrote; call once it has exited."""
        self.thread.join(timeout=10)
        os.close(self.reader)
        return self.text
