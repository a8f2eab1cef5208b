"""From OCR text to SymPy objects without evaluating the text.

OCR output is attacker-controlled (anyone can print `__import__('os')` in an
image), so it never reaches `eval`, `sympify` or `parse_expr`, which run
Python. A small tokenizer accepts numbers, the letters x, y, z, operators,
brackets and a few command words; a recursive-descent parser builds SymPy
numbers, symbols, sums, products and integer powers directly. Every bound
(length, tokens, nesting, digits, exponents, degree) is checked while
parsing, before SymPy does any work.

Grammar (juxtaposition is multiplication, as in 3(x - 2) or 2xy):
    problem   := [command] (equations | expression)
    equations := equation ((',' | newline | 'and') equation)*
    equation  := sum '=' sum
    sum       := ['+' | '-'] product (('+' | '-') product)*
    product   := power (('×' | '/') power | implicit power)*
    power     := atom ['^' ['-'] integer]
    atom      := number | letter | '(' sum ')'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy

MAX_TEXT_CHARS = 240
MAX_TOKENS = 120
MAX_DEPTH = 8
MAX_DIGITS = 12
MAX_EXPONENT = 12
MAX_DEGREE = 12
# Powers of numbers: the result's digits (base digits × exponent) stay small.
MAX_POWER_DIGITS = 60

VARIABLES = ("x", "y", "z")
COMMANDS = {
    "solve": "solve",
    "simplify": "simplify",
    "expand": "expand",
    "factor": "factor",
    "factorise": "factor",
    "factorize": "factor",
    "evaluate": "evaluate",
    "calculate": "evaluate",
    "compute": "evaluate",
}
# Words that may follow a command ("Solve for x:", "Factor the expression").
_FILLER = {"for", "the", "expression", "equation", "equations", "system", "of", "and"}


class ProblemError(Exception):
    """The text is not a problem this solver takes; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Problem:
    command: str | None
    equations: list[tuple[sympy.Expr, sympy.Expr]] = field(default_factory=list)
    expression: sympy.Expr | None = None
    symbols: set[sympy.Symbol] = field(default_factory=set)


@dataclass(frozen=True)
class Token:
    kind: str  # num, var, op, word, sep
    text: str
    space_before: bool


# Characters OCR and typesetting use for the same thing.
_CHAR_MAP = str.maketrans(
    {
        "−": "-",
        "–": "-",
        "—": "-",
        "‐": "-",
        "·": "×",
        "∙": "×",
        "⋅": "×",
        "÷": "/",
        "∕": "/",
        "[": "(",
        "]": ")",
        "{": "(",
        "}": ")",
        "X": "x",
        "Y": "y",
        "Z": "z",
        "²": "^2",
        "³": "^3",
        "⁴": "^4",
        "‘": "",
        "’": "",
        "\t": " ",
    }
)
_TOKEN = re.compile(
    r"[^\S\n]*(?:(?P<num>\d+(?:\.\d+)?)|(?P<word>[a-z]{2,})|(?P<var>[a-z])|(?P<op>[-+×/^=(),*?%:\n]))"
)


def normalise(text: str) -> str:
    """Maths-aware clean-up of what OCR reads, before tokenizing."""
    text = re.sub(r"[^\S\n]+", " ", text.translate(_CHAR_MAP))
    text = "\n".join(line.strip() for line in text.splitlines() if line.strip())
    # Lower-case words, but keep single capitals other than X/Y/Z (already mapped).
    text = re.sub(r"[A-Z][a-zA-Z]+", lambda m: m.group(0).lower(), text)
    # A minus sign read as "=" or "_" after "=", or as a long dash and a hyphen.
    text = re.sub(r"=\s*[=_]", "= -", text)
    text = re.sub(r"-{2,}", "-", text)
    text = re.sub(r"(^|\n)_", r"\1-", text)
    # An exponent read as "*2", "?2", "~2" or "?" after a letter: x*2, x?2, x? are x².
    text = re.sub(r"(?<=[xyz])\s?[*?~\"°']\s?(?=\d)", "^", text)
    text = re.sub(r"(?<=[xyz])\?", "^2", text)
    return text


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_TEXT_CHARS:
        raise ProblemError(f"The text is too long ({len(text)} characters; at most {MAX_TEXT_CHARS}).")
    tokens: list[Token] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ProblemError(f"Unexpected character {text[position]!r}.")
        space_before = match.start(match.lastgroup or 0) > position or position == 0
        position = match.end()
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "op" and value == "\n":
            kind, value = "sep", ","
        elif kind == "op" and value == ",":
            kind = "sep"
        tokens.append(Token(kind, value, space_before))
        if len(tokens) > MAX_TOKENS:
            raise ProblemError(f"The problem is too long (more than {MAX_TOKENS} symbols).")
    return _fix_times(tokens)


def _fix_times(tokens: list[Token]) -> list[Token]:
    """`×` is read as the letter x (or `%` or `*`). Between two numbers it is a
    multiplication sign when the problem uses no x as a variable elsewhere;
    otherwise `x` then a digit is an exponent lost by OCR (x2 for x^2)."""

    def between_numbers(i: int) -> bool:
        return (
            0 < i < len(tokens) - 1
            and (tokens[i - 1].kind == "num" or tokens[i - 1].text == ")")
            and (tokens[i + 1].kind == "num" or tokens[i + 1].text == "(")
        )

    x_positions = [i for i, t in enumerate(tokens) if t.kind == "var" and t.text == "x"]
    x_is_variable = any(not between_numbers(i) for i in x_positions) or any(
        t.kind == "var" and t.text != "x" for t in tokens
    )
    fixed: list[Token] = []
    for i, token in enumerate(tokens):
        if token.text in ("*", "%") and between_numbers(i):
            token = Token("op", "×", token.space_before)
        elif token.kind == "var" and token.text == "x" and between_numbers(i):
            if not x_is_variable:
                token = Token("op", "×", token.space_before)
            elif not tokens[i + 1].space_before and tokens[i + 1].kind == "num":
                fixed.append(token)
                token = Token("op", "^", False)
        elif (
            token.kind == "num"
            and fixed
            and fixed[-1].kind == "var"
            and not token.space_before
            and (len(fixed) < 2 or fixed[-2].text != "^")
        ):
            # x2 (not 2x2 already handled): a lost caret.
            fixed.append(Token("op", "^", False))
        fixed.append(token)
    return fixed


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.position = 0
        self.depth = 0
        self.symbols: set[sympy.Symbol] = set()

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise ProblemError("The problem ends too early.")
        self.position += 1
        return token

    def expect(self, text: str) -> None:
        token = self.peek()
        if token is None or token.text != text:
            found = "the end" if token is None else repr(token.text)
            raise ProblemError(f"Expected {text!r}, found {found}.")
        self.position += 1

    def problem(self) -> Problem:
        command = None
        token = self.peek()
        if token is not None and token.kind == "word":
            if token.text not in COMMANDS:
                raise ProblemError(f"Unknown word {token.text!r}.")
            command = COMMANDS[token.text]
            self.position += 1
            self._skip_filler()
        if self.peek() is None:
            raise ProblemError("No expression or equation was found.")
        first = self.sum_()
        if self.peek() is None and command != "solve":
            return Problem(command, expression=first, symbols=self.symbols)
        if (token := self.peek()) is not None and token.text != "=":
            raise ProblemError(f"Unexpected {token.text!r}.")
        equations = [self._equation_rest(first)]
        while self.peek() is not None:
            separator = self.take()
            if separator.kind != "sep" and separator.text != "and":
                raise ProblemError(f"Unexpected {separator.text!r}.")
            if self.peek() is None:
                break
            equations.append(self._equation_rest(self.sum_()))
            if len(equations) > 2:
                raise ProblemError("More than two equations.")
        return Problem(command, equations=equations, symbols=self.symbols)

    def _skip_filler(self) -> None:
        while (token := self.peek()) is not None:
            if (token.kind == "word" and token.text in _FILLER) or token.text == ":":
                self.position += 1
            elif (
                token.kind == "var"
                and self.position >= 1
                and self.tokens[self.position - 1].text == "for"
                and (self.peek_at(1) is None or self.peek_at(1).text in (":", ","))  # type: ignore[union-attr]
            ):
                # "Solve for x:"
                self.position += 1
            else:
                return

    def peek_at(self, offset: int) -> Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def _equation_rest(self, left: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr]:
        self.expect("=")
        return left, self.sum_()

    def sum_(self) -> sympy.Expr:
        self._enter()
        sign = 1
        token = self.peek()
        if token is not None and token.text in "+-" and token.kind == "op":
            self.position += 1
            sign = -1 if token.text == "-" else 1
        total = sign * self.product()
        while (token := self.peek()) is not None and token.kind == "op" and token.text in ("+", "-"):
            self.position += 1
            term = self.product()
            total = total + term if token.text == "+" else total - term
        self.depth -= 1
        return total

    def product(self) -> sympy.Expr:
        value = self.power()
        while (token := self.peek()) is not None:
            if token.text in ("×", "/") and token.kind == "op":
                self.position += 1
                right = self.power()
                if token.text == "/":
                    if right == 0:
                        raise ProblemError("Division by zero.")
                    if right.free_symbols:
                        raise ProblemError("Division by an expression with a variable.")
                    value = value / right
                else:
                    value = value * right
            elif token.kind == "var" or token.text == "(":
                # Implicit multiplication: 3x, 3(x - 2), (x + 1)(x - 1), xy.
                value = value * self.power()
            elif token.kind == "num":
                raise ProblemError(f"A number follows without an operator: {token.text!r}.")
            else:
                break
            self._check_degree(value)
        return value

    def power(self) -> sympy.Expr:
        base = self.atom()
        token = self.peek()
        if token is None or token.text != "^":
            return base
        self.position += 1
        negative = False
        if (token := self.peek()) is not None and token.text == "-":
            negative = True
            self.position += 1
        token = self.take()
        if token.kind != "num" or not token.text.isdigit():
            raise ProblemError("An exponent must be a whole number.")
        exponent = int(token.text)
        if exponent > MAX_EXPONENT:
            raise ProblemError(f"The exponent {exponent} is too large (at most {MAX_EXPONENT}).")
        if base.free_symbols:
            if negative:
                raise ProblemError("Negative powers of a variable are not supported.")
        else:
            digits = len(str(abs(sympy.Rational(base).p))) + len(str(sympy.Rational(base).q))
            if digits * exponent > MAX_POWER_DIGITS:
                raise ProblemError("The power is too large.")
            if negative and base == 0:
                raise ProblemError("Division by zero.")
        result = base ** (-exponent if negative else exponent)
        self._check_degree(result)
        return result

    def atom(self) -> sympy.Expr:
        token = self.take()
        if token.kind == "num":
            value = self._number(token)
            slash, denominator = self.peek(), self.peek_at(1)
            if (
                slash is not None
                and slash.text == "/"
                and not slash.space_before
                and denominator is not None
                and denominator.kind == "num"
                and not denominator.space_before
            ):
                # A printed fraction, 3/4: one number, so 3/4 ÷ 5/6 is (3/4) ÷ (5/6).
                self.position += 2
                divisor = self._number(denominator)
                if divisor == 0:
                    raise ProblemError("Division by zero.")
                return value / divisor
            return value
        if token.kind == "var":
            if token.text not in VARIABLES:
                raise ProblemError(f"Unknown letter {token.text!r} (only x, y and z).")
            symbol = sympy.Symbol(token.text)
            self.symbols.add(symbol)
            return symbol
        if token.text == "(":
            value = self.sum_()
            self.expect(")")
            return value
        raise ProblemError(f"Unexpected {token.text!r}.")

    @staticmethod
    def _number(token: Token) -> sympy.Rational:
        if len(token.text.replace(".", "")) > MAX_DIGITS:
            raise ProblemError(f"The number {token.text[:20]} has too many digits (at most {MAX_DIGITS}).")
        return sympy.Rational(token.text)

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ProblemError(f"Brackets are nested too deeply (at most {MAX_DEPTH - 1} levels).")

    @staticmethod
    def _check_degree(value: sympy.Expr) -> None:
        if not value.free_symbols:
            return
        degree = sympy.Poly(value, *sorted(value.free_symbols, key=str)).total_degree()
        if degree > MAX_DEGREE:
            raise ProblemError(f"The polynomial's degree is too high (at most {MAX_DEGREE}).")


def parse(text: str) -> Problem:
    """Raises ProblemError for anything outside the grammar or its bounds."""
    tokens = tokenize(normalise(text))
    if not tokens:
        raise ProblemError("No text was read.")
    parser = _Parser(tokens)
    return parser.problem()
