"""The local solver's text side: the maths-aware normaliser, the grammar
(which must never evaluate its input) and the answers SymPy gives."""

from __future__ import annotations

import pytest

from workers.providers.local.grammar import MAX_DEPTH, MAX_TEXT_CHARS, ProblemError, parse
from workers.providers.local.solver import solve


def answer(text: str) -> str:
    return solve(parse(text)).final_answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12 + 7 × 3", "33"),
        ("(4 + 6) ÷ 5", "2"),
        ("2³ − 3 × (4 − 1)", "-1"),
        ("2^3 - 3 x (4 - 1)", "-1"),
        ("−7 + 12", "5"),
        ("[2 + 3] × 4", "20"),
        ("0.5 + 0.25", "3/4"),
        ("3/4 + 5/6", "19/12"),
        ("3/4 ÷ 5/6", "9/10"),
        ("2/3 × 9/4", "3/2"),
        ("2x + 3 = 11", "x = 4"),
        ("Solve 3(x − 2) = 12", "x = 6"),
        ("Solve for x: 3x − 2 = x + 5", "x = 7/2"),
        ("x² − 5x + 6 = 0", "x = 2 or x = 3"),
        ("x^2 + 2x + 5 = 0", "x = -1 - 2i or x = -1 + 2i"),
        ("x² − 6x + 9 = 0", "x = 3"),
        ("x² − 2 = 0", "x = -sqrt(2) or x = sqrt(2)"),
        ("2x + y = 7\nx − y = 2", "x = 3, y = 1"),
        ("x + y = 10, x − y = 2", "x = 6, y = 4"),
        ("Expand (x + 2)(x − 3)", "x^2 - x - 6"),
        ("Factor x² − 9", "(x - 3)(x + 3)"),
        ("Factorise x² + 5x + 6", "(x + 2)(x + 3)"),
        ("Simplify 2x + 3x − x", "4x"),
    ],
)
def test_it_solves_each_kind_exactly(text: str, expected: str) -> None:
    assert answer(text) == expected


@pytest.mark.parametrize(
    ("ocr_text", "expected"),
    [
        # Exponents lost or misread by OCR.
        ("X2 + 2x + 5 = 0", "x = -1 - 2i or x = -1 + 2i"),
        ("x*2 - 5x + 6 = 0", "x = 2 or x = 3"),
        ("x?2 - 5x + 6 = 0", "x = 2 or x = 3"),
        ("x? - 5x + 6 = 0", "x = 2 or x = 3"),
        ('x"2 - 5x + 6 = 0', "x = 2 or x = 3"),
        # The times sign read as a letter x or a percent sign, with no x in sight.
        ("12 + 7x3", "33"),
        ("12 + 7 % 3", "33"),
        # A minus read as a long dash and a hyphen, or as "=" after "=".
        ("3x —- 2 = 10", "x = 4"),
        ("2x + 3 = =5", "x = -4"),
        ("X + Y = 10\nX − Y = 2", "x = 6, y = 4"),
    ],
)
def test_the_normaliser_repairs_what_ocr_gets_wrong_about_maths(ocr_text: str, expected: str) -> None:
    assert answer(ocr_text) == expected


def test_a_linear_answer_comes_with_latex_steps() -> None:
    solution = solve(parse("2x + 3 = 11"))
    assert solution.kind == "linear"
    assert solution.steps == ["2 x + 3 = 11", "2 x = 8", "x = 4"]


@pytest.mark.parametrize(
    "hostile",
    [
        "__import__('os').system('touch /tmp/pwned')",
        "eval('1+1')",
        "lambda: 0",
        "x.__class__ = 1",
        "exec(open('/etc/passwd').read())",
        "2 ** 10",
        "Symbol('x')",
    ],
)
def test_python_is_refused_never_run(hostile: str) -> None:
    with pytest.raises(ProblemError):
        parse(hostile)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2^99999", "exponent"),
        # A tower of powers is outside the grammar.
        ("9^9^9", "Unexpected '\\^'"),
        ("999999999999^12", "too large"),
        ("12345678901234567890 + 1", "too many digits"),
        ("(" * 50 + "1" + ")" * 50, "nested"),
        ("(x + 1)^12 (x + 2)^12", "degree"),
        ("1 + " * 100 + "1", "too long"),
        ("x^-3 = 1", "Negative powers"),
        ("1 / (x - 1) = 2", "variable"),
        ("5 / 0", "Division by zero"),
    ],
)
def test_bounds_refuse_work_that_could_run_away(text: str, reason: str) -> None:
    with pytest.raises(ProblemError, match=reason):
        parse(text)


def test_the_bounds_are_checked_before_any_work() -> None:
    assert MAX_DEPTH < 20
    with pytest.raises(ProblemError, match="too long"):
        parse("1" * (MAX_TEXT_CHARS + 1))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("What is the capital of France?", "Unknown word"),
        ("Integrate x dx", "Unknown word"),
        ("x³ − 1 = 0", "degree 3"),
        ("x + y = 3", "exactly one unknown"),
        ("x + y = 1\n2x + 2y = 2", "no unique solution"),
        ("x² + y = 1\nx − y = 2", "linear"),
        ("4 = 5", "no unknown"),
        ("2x = 2x", "no unknown"),
        ("Factor x + 1 = 2", "Cannot factor an equation"),
        ("x = 1, y = 2, z = 3", "More than two"),
        ("3 4 + 1", "without an operator"),
        ("2x +", "ends too early"),
    ],
)
def test_what_is_not_one_of_the_kinds_is_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ProblemError, match=reason):
        solve(parse(text))
