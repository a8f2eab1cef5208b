"""The local provider on printed images drawn at run time (the benchmark's
generator, bench/printed_problems.py): answers, honest failures, hostile
text that must fail without running anything, the time limit."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench.printed_problems import cases, font_paths, render
from workers.providers.base import ProviderError, SolveRequest, answer_result
from workers.providers.local import LocalProvider
from workers.providers.local import solver as local_solver

FONTS = font_paths()
SANS = next((f for f in FONTS if f.name == "DejaVuSans.ttf"), FONTS[0] if FONTS else None)
SERIF = next((f for f in FONTS if f.name == "DejaVuSerif.ttf"), SANS)


def _request(image: bytes, mime_type: str = "image/png") -> SolveRequest:
    return SolveRequest(image=image, mime_type=mime_type, prompt="", model="gpt-4o-mini", detail="auto")


def _solve(text: str, **render_options: object) -> dict:
    options: dict = {"font": SANS, "size": 34, **render_options}
    image, mime_type = render(text, **options)
    answer = LocalProvider().solve(_request(image, mime_type))
    assert (answer.model, answer.input_tokens, answer.output_tokens) == ("local", 0, 0)
    return answer_result(answer.text)


def _failure(image: bytes) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        LocalProvider().solve(_request(image))
    assert caught.value.retryable is False
    return caught.value


@pytest.mark.parametrize(
    ("text", "expected", "options"),
    [
        ("2x + 3 = 11", "x = 4", {}),
        ("12 + 7 × 3", "33", {"font": SERIF}),
        ("(4 + 6) ÷ 5", "2", {}),
        ("3/4 + 5/6", "19/12", {"jpeg": True}),
        ("Solve 3(x − 2) = 12", "x = 6", {"paper": 220, "ink": 40}),
        ("x² − 5x + 6 = 0", "x = 2 or x = 3", {"angle": 1.5}),
        ("x² + 2x + 5 = 0", "x = -1 - 2i or x = -1 + 2i", {"size": 28}),
        ("2x + y = 7\nx − y = 2", "x = 3, y = 1", {"font": SERIF}),
        ("Expand (x + 2)(x − 3)", "x^2 - x - 6", {"blur": 0.5}),
        ("Factor x² − 9", "(x - 3)(x + 3)", {"size": 42}),
    ],
)
def test_printed_problems_are_answered_correctly(text: str, expected: str, options: dict) -> None:
    result = _solve(text, **options)
    assert result["final_answer"] == expected
    assert result["latex"], "the steps are written in LaTeX"
    assert result["text"].startswith("Read: ")


def test_a_pinned_sample_of_the_benchmark_set_is_answered_and_never_wrong() -> None:
    sample = cases(seed=1313, per_kind=2)
    answered = correct = 0
    for case in sample:
        try:
            answer = LocalProvider().solve(_request(case.image, case.mime_type))
        except ProviderError as exc:
            assert exc.code in ("unreadable_image", "unsupported_problem")
            continue
        answered += 1
        final = answer_result(answer.text)["final_answer"]
        assert final == case.problem.expected, (case.problem.text, answer.text)
        correct += 1
    assert correct >= len(sample) - 2


@pytest.mark.parametrize(
    "hostile",
    [
        "__import__('os').system('touch {marker}')",
        "eval(\"open('{marker}', 'w')\")",
        "exec(compile('1', 'x', 'exec'))",
    ],
)
def test_python_in_an_image_fails_cleanly_and_runs_nothing(hostile: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    image, _ = render(hostile.format(marker=marker), font=SANS, size=30)
    error = _failure(image)
    assert error.code in ("unsupported_problem", "unreadable_image")
    assert "read:" in error.message
    assert not marker.exists()


@pytest.mark.parametrize(
    "text",
    [
        "2^999999 + 1",
        "9^9^9^9",
        "((((((((((((1 + 2))))))))))))",
        "123456789012345678 × 98765432109876543",
    ],
)
def test_huge_or_deep_problems_in_an_image_fail_quickly(text: str) -> None:
    image, _ = render(text, font=SANS, size=32)
    started = time.process_time()
    error = _failure(image)
    assert error.code in ("unsupported_problem", "unreadable_image")
    assert time.process_time() - started < 5


def test_a_problem_of_another_kind_is_unsupported_and_says_what_was_read() -> None:
    image, _ = render("What is the capital of France?", font=SANS, size=32)
    error = _failure(image)
    assert error.code == "unsupported_problem"
    assert "capital" in error.message.lower()


def test_an_image_without_text_is_unreadable() -> None:
    image, _ = render(" ", font=SANS, size=32)
    error = _failure(image)
    assert error.code == "unreadable_image"
    assert error.message == "No text was found in the image."


def test_bytes_that_are_not_an_image_are_an_invalid_image() -> None:
    assert _failure(b"not an image at all").code == "invalid_image"


def test_a_solve_that_runs_too_long_is_stopped(settings, monkeypatch) -> None:
    settings.LOCAL_SOLVER_TIMEOUT_S = 1

    def endless(problem: object) -> None:
        while True:
            time.sleep(0.01)

    monkeypatch.setattr("workers.providers.local.solve", endless)
    image, _ = render("2x + 3 = 11", font=SANS, size=34)
    started = time.monotonic()
    error = _failure(image)
    assert error.code == "solve_timeout"
    assert "2x + 3 = 11" in error.message
    # Stopped after the limit, with room for the OCR on a busy machine.
    assert time.monotonic() - started < 30
    # The solver itself is untouched for the next job.
    assert local_solver.solve is not endless
