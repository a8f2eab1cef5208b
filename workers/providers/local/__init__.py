"""The `local` provider: printed maths solved on this machine, no API key.

OCR (ocr.py), a grammar that builds SymPy objects without evaluating the
text (grammar.py), SymPy to solve (solver.py). It answers only what it read
with confidence and recognised as one of its kinds; everything else fails
with `unreadable_image` or `unsupported_problem`, never a guess. CPU-bound:
the `local` queue runs it on a process pool (docs/jobs.md)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings

from workers.providers.base import Answer, ProviderError, SolveRequest
from workers.providers.local import ocr
from workers.providers.local.grammar import ProblemError, parse
from workers.providers.local.solver import solve

MODEL = "local"
UNREADABLE = "unreadable_image"
UNSUPPORTED = "unsupported_problem"
TIMED_OUT = "solve_timeout"


class _SolveTimeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt SymPy after `seconds` of wall time. A signal reaches only the
    main thread, which is where prefork workers, the bench and the tests
    run; elsewhere the parser's bounds alone keep the work small."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expired(_signum: int, _frame: Any) -> None:
        raise _SolveTimeout

    previous = signal.signal(signal.SIGALRM, _expired)
    started = time.monotonic()
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay:
            # Someone else's alarm was pending (a test runner's timeout):
            # give it back what is left of it.
            remaining = max(outer_delay - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, remaining, outer_interval)


def _shown(text: str) -> str:
    return " / ".join(line for line in text.splitlines() if line.strip())[:200]


class LocalProvider:
    def solve(self, request: SolveRequest) -> Answer:
        try:
            image = ocr.load(request.image)
        except (OSError, ValueError) as exc:
            raise ProviderError(
                "invalid_image", f"The image could not be decoded: {exc}", retryable=False
            ) from exc
        failure = ProviderError(UNREADABLE, "No text was found in the image.", retryable=False)
        first = True
        # Tesseract reads some glyphs right at one scale and wrong at
        # another: a reading that is not trusted, or not understood, is
        # tried again at other scales. Only a trusted reading is solved.
        for cap_height in (ocr.TARGET_CAP_HEIGHT, *ocr.RETRY_CAP_HEIGHTS):
            reading = ocr.read(image, cap_height=cap_height)
            if first and not reading.text.strip():
                break  # no text at all: other scales will not find any
            try:
                return self._solve_reading(reading)
            except ProviderError as exc:
                if exc.code == TIMED_OUT:
                    raise
                # The first reading's failure is the one reported, unless a
                # later one read the text well enough to say what it is.
                if first or (failure.code == UNREADABLE and exc.code == UNSUPPORTED):
                    failure, first = exc, False
        raise failure

    @staticmethod
    def _solve_reading(reading: ocr.Reading) -> Answer:
        read = _shown(reading.text)
        if not read:
            raise ProviderError(UNREADABLE, "No text was found in the image.", retryable=False)
        if reading.mean_confidence < settings.LOCAL_SOLVER_MIN_CONFIDENCE or reading.suspect:
            raise ProviderError(
                UNREADABLE,
                f"The text could not be read with confidence (read: {read!r}, "
                f"confidence {reading.mean_confidence:.0f}"
                f"{'; the ink does not match the text' if reading.suspect else ''}).",
                retryable=False,
            )
        try:
            with _time_limit(settings.LOCAL_SOLVER_TIMEOUT_S):
                solution = solve(parse(reading.text))
        except ProblemError as exc:
            raise ProviderError(
                UNSUPPORTED,
                f"Not a problem the local solver takes: {exc.message} (read: {read!r}).",
                retryable=False,
            ) from exc
        except (_SolveTimeout, RecursionError) as exc:
            raise ProviderError(
                TIMED_OUT, f"Solving took too long and was stopped (read: {read!r}).", retryable=False
            ) from exc
        steps = "\n".join(f"$${step}$$" for step in solution.steps)
        text = f"Read: {read}\n{steps}\nFinal answer: {solution.final_answer}"
        return Answer(text=text, model=MODEL, input_tokens=0, cached_tokens=0, output_tokens=0)
