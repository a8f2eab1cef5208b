"""config/admission.py: at most N requests in the application at once; a
request waiting on something else gives its place back meanwhile."""

from __future__ import annotations

import threading
from typing import Any

from config.admission import AdmissionLimit, admission_released


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
