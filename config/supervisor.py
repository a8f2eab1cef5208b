"""The process supervisor behind `make run` (bin/run).

Runs a set of programs (the embedded Redis, the Procfile's processes), each
in a session of its own, and keeps them running:

1. Start them in order (those not already started by the caller).
2. A program that exits while the supervisor is not stopping is logged and
   started again after a back-off (1 s, doubled each time up to 30 s; back to
   1 s once it has run for a minute), so one crashing process never takes
   the platform down, and one that crashes at once does not spin.
3. On stop (Ctrl-C, SIGTERM), every program's process group gets SIGTERM, in
   reverse order (Redis last); whatever is still running after
   STOP_TIMEOUT_S gets SIGKILL.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0
# A program that ran this long before exiting is restarted after the
# shortest back-off again: it was not crashing in a loop.
STABLE_AFTER_S = 60.0
STOP_TIMEOUT_S = 10.0

Log = Callable[[str], None]


def _log_to_stdout(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} supervisor   | {message}", flush=True)


@dataclass
class Program:
    name: str
    # Starts the program and returns its process (in a new session, so the
    # supervisor can signal its whole process group).
    start: Callable[[], subprocess.Popen[bytes]]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff_s: float = BACKOFF_START_S
    restarts: int = field(default=0)


class Supervisor:
    def __init__(self, programs: list[Program], *, log: Log = _log_to_stdout, poll_s: float = 0.2) -> None:
        self.programs = programs
        self.log = log
        self.poll_s = poll_s
        self.stopping = threading.Event()

    def run(self) -> None:
        """Start everything and watch it until `stopping` is set; then stop
        everything."""
        try:
            for program in self.programs:
                if program.process is None:
                    self._start(program)
                else:
                    # Started by the caller (bin/run starts Redis first).
                    program.started_at = time.monotonic()
            while not self.stopping.wait(self.poll_s):
                self._watch()
        finally:
            self.stop_all()

    def _watch(self) -> None:
        now = time.monotonic()
        for program in self.programs:
            process = program.process
            if process is not None and process.poll() is not None:
                ran_s = now - program.started_at
                if ran_s >= STABLE_AFTER_S:
                    program.backoff_s = BACKOFF_START_S
                self.log(
                    f"{program.name} exited with code {process.returncode} after {ran_s:.0f} s; "
                    f"restarting in {program.backoff_s:.0f} s"
                )
                # Whatever the program left in its group (the shell died,
                # its child did not) goes too, or the restart would run
                # beside it.
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                program.process = None
                self._schedule_restart(program, now)
            elif process is None and program.restart_at is not None and now >= program.restart_at:
                program.restarts += 1
                self._start(program)

    def _schedule_restart(self, program: Program, now: float) -> None:
        program.restart_at = now + program.backoff_s
        program.backoff_s = min(program.backoff_s * 2, BACKOFF_MAX_S)

    def _start(self, program: Program) -> None:
        try:
            program.process = program.start()
        except Exception as exc:  # any failure to start is retried the same way
            self.log(f"{program.name} could not start ({exc}); retrying in {program.backoff_s:.0f} s")
            self._schedule_restart(program, time.monotonic())
            return
        program.started_at = time.monotonic()
        program.restart_at = None
        self.log(f"{program.name} started (pid {program.process.pid})")

    def stop_all(self) -> None:
        running = [p.process for p in reversed(self.programs) if p.process is not None]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in running:
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        for program in self.programs:
            program.process = None


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    if process.poll() is None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)


# --- Procfile ------------------------------------------------------------------------

_PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")


def procfile_programs(path: Path, *, env: dict[str, str], cwd: Path) -> list[Program]:
    """One program per `name: command` line of the Procfile. Each command
    runs under /bin/sh (for its `VAR=value` prefixes), its output prefixed
    with its name on this process's stdout."""
    programs = []
    for line in path.read_text().splitlines():
        match = _PROCFILE_LINE.match(line.strip())
        if match:
            name, command = match.groups()
            programs.append(Program(name=name, start=_shell_starter(name, command, env=env, cwd=cwd)))
    return programs


def _shell_starter(
    name: str, command: str, *, env: dict[str, str], cwd: Path
) -> Callable[[], subprocess.Popen[bytes]]:
    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(  # noqa: S603 - the Procfile's own commands
            ["/bin/sh", "-c", command],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C in the terminal reaches the supervisor
            # only, which stops the programs in order.
            start_new_session=True,
        )
        threading.Thread(target=_relay, args=(name, process), daemon=True).start()
        return process

    return start


def _relay(name: str, process: subprocess.Popen[bytes]) -> None:
    if process.stdout is None:
        return
    for line in iter(process.stdout.readline, b""):
        sys.stdout.buffer.write(f"{time.strftime('%H:%M:%S')} {name:<12} | ".encode() + line)
        sys.stdout.buffer.flush()
