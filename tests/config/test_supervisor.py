"""config/supervisor.py, the process supervisor of `make run`, with real
processes: one that exits is started again after a back-off; stopping ends
every process group; the Procfile is read as honcho would."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from config import supervisor as sv
from config.supervisor import Program, Supervisor, procfile_programs


def _shell(command: str) -> Program:
    return Program(
        name=command.split()[0],
        start=lambda: subprocess.Popen(["/bin/sh", "-c", command], start_new_session=True),
    )


def _run_in_background(supervisor: Supervisor) -> threading.Thread:
    thread = threading.Thread(target=supervisor.run, daemon=True)
    thread.start()
    return thread


def _wait_until(predicate, timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_process_that_exits_is_started_again_with_a_growing_back_off() -> None:
    crasher = _shell("exit 3")
    steady = _shell("sleep 30")
    logged: list[str] = []
    supervisor = Supervisor([steady, crasher], log=logged.append, poll_s=0.02)
    crasher.backoff_s = 0.1
    thread = _run_in_background(supervisor)
    try:
        assert _wait_until(lambda: crasher.restarts >= 3)
        steady_pid = steady.process.pid if steady.process else None
    finally:
        supervisor.stopping.set()
        thread.join(15)
    assert not thread.is_alive()
    assert any("exit exited with code 3" in line and "restarting in" in line for line in logged), logged
    # 0.1, 0.2, 0.4 s...: a process that fails at once does not spin.
    assert crasher.backoff_s >= 0.8
    # The others never noticed.
    assert steady_pid is not None and all("sleep exited" not in line for line in logged)


def test_stopping_ends_every_process_group(tmp_path: Path) -> None:
    # The shell's child (the real program) must stop too, not only the shell.
    pids = tmp_path / "pids"
    program = _shell(f"sleep 60 & echo $! > {pids}; wait")
    supervisor = Supervisor([program], log=lambda _: None, poll_s=0.02)
    thread = _run_in_background(supervisor)
    assert _wait_until(lambda: pids.exists() and pids.read_text().strip() != "")
    child = int(pids.read_text())
    supervisor.stopping.set()
    thread.join(15)
    assert not thread.is_alive()
    assert _wait_until(lambda: not _alive(child), timeout_s=5)


def test_a_program_that_ignores_sigterm_is_killed_after_the_timeout(monkeypatch) -> None:
    monkeypatch.setattr(sv, "STOP_TIMEOUT_S", 0.5)
    stubborn = _shell("trap '' TERM; sleep 60")
    supervisor = Supervisor([stubborn], log=lambda _: None, poll_s=0.02)
    thread = _run_in_background(supervisor)
    assert _wait_until(lambda: stubborn.process is not None)
    process = stubborn.process
    started = time.monotonic()
    supervisor.stopping.set()
    thread.join(15)
    assert process is not None and process.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 5


def test_the_procfile_is_read_one_program_a_line(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    out = tmp_path / "out"
    procfile.write_text(
        f"# a comment\n\nfirst: GREETING=hello sh -c 'echo $GREETING > {out}'\nsecond: true\n"
    )
    programs = procfile_programs(procfile, env=dict(os.environ), cwd=tmp_path)
    assert [p.name for p in programs] == ["first", "second"]
    process = programs[0].start()
    assert process.wait(10) == 0
    assert out.read_text().strip() == "hello"


def test_the_projects_procfile_runs_maintenance_on_a_worker_of_its_own() -> None:
    root = Path(__file__).resolve().parents[2]
    programs = {p.name for p in procfile_programs(root / "Procfile", env={}, cwd=root)}
    assert {"web", "worker", "webhooks", "maintenance", "beat", "flower"} <= programs
    lines = dict(line.split(":", 1) for line in (root / "Procfile").read_text().splitlines() if ":" in line)
    assert "WORKER_QUEUES=solve " in lines["worker"]
    assert "WORKER_QUEUES=maintenance " in lines["maintenance"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) counts as stopped.
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")


def test_what_an_exited_program_left_running_is_stopped_before_the_restart(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    program = _shell(f"sleep 60 & echo $! >> {pids}; exit 1")
    supervisor = Supervisor([program], log=lambda _: None, poll_s=0.02)
    thread = _run_in_background(supervisor)
    try:
        assert _wait_until(lambda: program.restarts >= 1 and pids.exists())
        first_child = int(pids.read_text().split()[0])
        assert _wait_until(lambda: not _alive(first_child), timeout_s=5)
    finally:
        supervisor.stopping.set()
        thread.join(15)
