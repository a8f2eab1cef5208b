"""config/admission.py: at most N requests in the application at once; a
request waiting on something else gives its place back meanwhile."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from config.admission import AdmissionLimit, Places, admission_released


def _app(steps: dict[str, threading.Event], log: list[str]) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        name = environ["name"]
        log.append(f"{name} in")
        if name == "waiter":
            with admission_released():
                log.append("waiter released")
                steps["released"].set()
                steps["waiter may go on"].wait(10)
            log.append("waiter back")
        log.append(f"{name} out")
        return [b""]

    return app


def test_a_request_waits_for_a_place_and_a_waiter_gives_its_place_back() -> None:
    steps = {"released": threading.Event(), "waiter may go on": threading.Event()}
    log: list[str] = []
    limited = AdmissionLimit(_app(steps, log), limit=1)

    waiter = threading.Thread(target=limited, args=({"name": "waiter"}, None))
    waiter.start()
    assert steps["released"].wait(10)
    # The other request takes the one place while the waiter waits...
    other = threading.Thread(target=limited, args=({"name": "other"}, None))
    other.start()
    other.join(10)
    assert not other.is_alive()
    assert log == ["waiter in", "waiter released", "other in", "other out"]
    # ... and the waiter takes it again to finish.
    steps["waiter may go on"].set()
    waiter.join(10)
    assert log[-2:] == ["waiter back", "waiter out"]


def test_a_full_process_makes_the_next_request_wait() -> None:
    log: list[str] = []
    busy = threading.Event()
    finish = threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        log.append(environ["name"])
        if environ["name"] == "first":
            busy.set()
            finish.wait(10)
        return [b""]

    limited = AdmissionLimit(app, limit=1)
    first = threading.Thread(target=limited, args=({"name": "first"}, None))
    first.start()
    busy.wait(10)
    second = threading.Thread(target=limited, args=({"name": "second"}, None))
    second.start()
    second.join(0.3)
    assert second.is_alive() and log == ["first"], "the second waits for the place"
    finish.set()
    first.join(10)
    second.join(10)
    assert log == ["first", "second"]


def test_no_limit_and_no_place_held_are_no_ops() -> None:
    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with admission_released():
            calls.append("in")
        return [b""]

    assert AdmissionLimit(app, limit=0)({}, lambda *_: None) == [b""]
    with admission_released():
        calls.append("outside a request")
    assert calls == ["in", "outside a request"]


def test_a_place_given_back_goes_to_the_longest_waiting_not_to_a_newcomer() -> None:
    places = Places(1)
    places.acquire()
    order: list[str] = []

    def first_waiter() -> None:
        places.acquire()
        order.append("first waiter")
        places.release()

    waiter = threading.Thread(target=first_waiter)
    waiter.start()
    deadline = time.monotonic() + 10
    while not places.waiting() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert places.waiting() == 1
    # Given back and asked for again at once, by the same thread: a
    # semaphore lets it take the place back before the woken waiter runs.
    places.release()
    places.acquire()
    order.append("newcomer")
    places.release()
    waiter.join(10)
    assert order == ["first waiter", "newcomer"]


_KILLED_WAITERS = """
import gevent.monkey
gevent.monkey.patch_all()
import gevent
from config.admission import Places

places = Places(1)
places.acquire()
got = []

def wait(name):
    places.acquire()
    got.append(name)

# Killed while in line: it leaves the line.
in_line, second = gevent.spawn(wait, "in line"), gevent.spawn(wait, "second")
gevent.sleep(0)
in_line.kill()
places.release()
second.join(5)
assert got == ["second"], got
# Killed once the place was handed to it, before it ran: it gives it on.
# (The kill is scheduled before the hand-over, so it runs first.)
handed, third = gevent.spawn(wait, "handed"), gevent.spawn(wait, "third")
gevent.sleep(0)
handed.kill(block=False)
places.release()
third.join(5)
assert got == ["second", "third"], got
places.release()
assert places.waiting() == 0
places.acquire()  # the one place is free again: this does not block
print("ok")
"""


def test_a_greenlet_killed_while_waiting_loses_no_place() -> None:
    # gevent patches the standard library for the whole process, as in
    # bin/web's workers: in a process of its own.
    result = subprocess.run(
        [sys.executable, "-c", _KILLED_WAITERS],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
