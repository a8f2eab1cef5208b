"""Solving a parsed problem with SymPy, with short steps in LaTeX.

Kinds: arithmetic and fractions (exact), linear and quadratic equations in
one variable (real and complex roots), two linear equations in two
variables, and simplify / expand / factor of a polynomial. Anything else is
a ProblemError: the caller fails the job rather than guess."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy

from workers.providers.local.grammar import Problem, ProblemError


@dataclass(frozen=True)
class Solution:
    kind: str
    steps: list[str]
    final_answer: str


def plain(value: sympy.Expr) -> str:
    """A compact one-line form: x^2 - 5x + 6, 19/12, -1 + 2i, (x - 3)(x + 3)."""
    text = sympy.sstr(value)
    text = text.replace("**", "^")
    text = re.sub(r"\bI\b", "i", text)
    text = re.sub(r"(\d)\*(?=[a-z(])", r"\1", text)
    text = re.sub(r"\)\*\(", ")(", text)
    text = re.sub(r"\*i\b", "i", text)
    return text.replace("*", "·")


def _tex(value: sympy.Expr) -> str:
    return sympy.latex(value, imaginary_unit="i")


def _factor_tex(value: sympy.Expr) -> str:
    return rf"\left({_tex(value)}\right)" if value < 0 else _tex(value)


def _equation_tex(left: sympy.Expr, right: sympy.Expr) -> str:
    return f"{_tex(left)} = {_tex(right)}"


def _sorted_roots(roots: list[sympy.Expr]) -> list[sympy.Expr]:
    def key(root: sympy.Expr) -> tuple[float, float]:
        real, imaginary = root.as_real_imag()
        return (float(real), float(imaginary))

    return sorted(roots, key=key)


def solve(problem: Problem) -> Solution:
    if problem.equations:
        if problem.command not in (None, "solve"):
            raise ProblemError(f"Cannot {problem.command} an equation.")
        if len(problem.equations) == 2:
            return _system(problem)
        return _equation(*problem.equations[0])
    expression = problem.expression
    if expression is None:
        raise ProblemError("No expression or equation was found.")
    if not expression.free_symbols:
        return _arithmetic(expression, problem.command)
    return _polynomial(expression, problem.command)


def _arithmetic(value: sympy.Expr, command: str | None) -> Solution:
    if command not in (None, "evaluate", "simplify"):
        raise ProblemError(f"Cannot {command} a number.")
    value = sympy.nsimplify(value) if not value.is_Rational else value
    steps = [f"{_tex(value)}"]
    if value.is_Rational and not value.is_Integer:
        steps.append(rf"{_tex(value)} \approx {sympy.Float(value, 6)}")
    return Solution("fraction" if not value.is_Integer else "arithmetic", steps, plain(value))


def _polynomial(expression: sympy.Expr, command: str | None) -> Solution:
    if command in (None, "simplify", "expand", "evaluate"):
        result = sympy.expand(expression)
        kind = "expand" if command == "expand" else "simplify"
    elif command == "factor":
        result = sympy.factor(expression)
        kind = "factor"
    else:
        raise ProblemError(f"Cannot {command} an expression without an equals sign.")
    return Solution(kind, [f"{_tex(expression)} = {_tex(result)}"], plain(result))


def _equation(left: sympy.Expr, right: sympy.Expr) -> Solution:
    symbols = sorted((left - right).free_symbols, key=str)
    if len(symbols) != 1:
        raise ProblemError(
            "An equation needs exactly one unknown."
            if symbols
            else "The equation has no unknown to solve for."
        )
    (symbol,) = symbols
    poly = sympy.Poly(sympy.expand(left - right), symbol)
    degree = poly.degree()
    name = _tex(symbol)
    if degree == 1:
        a, b = poly.all_coeffs()
        root = -b / a
        steps = [
            _equation_tex(left, right),
            _equation_tex(a * symbol, -b),
            f"{name} = {_tex(root)}",
        ]
        return Solution("linear", steps, f"{symbol} = {plain(root)}")
    if degree == 2:
        a, b, c = poly.all_coeffs()
        discriminant = b**2 - 4 * a * c
        roots = _sorted_roots(list(sympy.roots(poly, multiple=False).keys()))
        steps = [
            f"{_tex(poly.as_expr())} = 0",
            rf"a = {_tex(a)},\ b = {_tex(b)},\ c = {_tex(c)}",
            rf"\Delta = b^2 - 4ac = {_tex(discriminant)}",
            rf"{name} = \frac{{-b \pm \sqrt{{\Delta}}}}{{2a}}",
            r",\ ".join(f"{name} = {_tex(root)}" for root in roots),
        ]
        return Solution("quadratic", steps, " or ".join(f"{symbol} = {plain(root)}" for root in roots))
    if degree < 1:
        raise ProblemError("The equation has no unknown once simplified.")
    raise ProblemError(f"Equations of degree {degree} are not supported (at most 2).")


def _system(problem: Problem) -> Solution:
    differences = [sympy.expand(left - right) for left, right in problem.equations]
    symbols = sorted(set().union(*(d.free_symbols for d in differences)), key=str)
    if len(symbols) != 2:
        raise ProblemError("A system needs exactly two unknowns.")
    u, v = symbols
    rows = []
    for difference in differences:
        poly = sympy.Poly(difference, u, v)
        if poly.total_degree() != 1:
            raise ProblemError("Only systems of linear equations are supported.")
        rows.append((poly.coeff_monomial(u), poly.coeff_monomial(v), -poly.coeff_monomial(1)))
    (a1, b1, c1), (a2, b2, c2) = rows
    determinant = a1 * b2 - a2 * b1
    if determinant == 0:
        raise ProblemError("The system has no unique solution.")
    u_value = (c1 * b2 - c2 * b1) / determinant
    v_value = (a1 * c2 - a2 * c1) / determinant
    steps = [
        r"\begin{cases} "
        + r" \\ ".join(_equation_tex(left, right) for left, right in problem.equations)
        + r" \end{cases}",
        rf"D = {_factor_tex(a1)} \cdot {_factor_tex(b2)} - {_factor_tex(a2)} \cdot {_factor_tex(b1)}"
        rf" = {_tex(determinant)}",
        rf"{_tex(u)} = \frac{{{_tex(c1 * b2 - c2 * b1)}}}{{{_tex(determinant)}}} = {_tex(u_value)}",
        rf"{_tex(v)} = \frac{{{_tex(a1 * c2 - a2 * c1)}}}{{{_tex(determinant)}}} = {_tex(v_value)}",
    ]
    return Solution("system", steps, f"{u} = {plain(u_value)}, {v} = {plain(v_value)}")
