"""Printed maths problems with known answers, drawn with Pillow: the local
solver's benchmark and its tests use the same generator.

Each problem is made from random integers (a fixed seed), its expected
answer computed from those integers (the solver never sees them) and written
in the solver's answer format. Images vary in font, size, ink and paper grey,
slight rotation, blur, and PNG or JPEG."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sympy
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from workers.providers.local.solver import plain

KINDS = ("arithmetic", "fraction", "linear", "quadratic", "system", "polynomial")
_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF")
_FONT_NAMES = (
    "DejaVuSans.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSerifCondensed.ttf",
)
X, Y = sympy.symbols("x y")


@dataclass(frozen=True)
class Printed:
    kind: str
    text: str
    expected: str


@dataclass(frozen=True)
class Case:
    problem: Printed
    image: bytes
    mime_type: str
    font: str
    size: int


def font_paths() -> list[Path]:
    """The TTF fonts found on this machine (DejaVu where installed)."""
    found = []
    for directory in _FONT_DIRS:
        for name in _FONT_NAMES:
            path = Path(directory) / name
            if path.exists() and path not in found:
                found.append(path)
    return found


def _load_font(path: Path | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None:
        # Pillow's own font, when the machine has no TTF fonts at all.
        return ImageFont.load_default(size)
    return ImageFont.truetype(str(path), size)


def _signed(value: int) -> str:
    return f"+ {value}" if value >= 0 else f"− {-value}"


def _term(coefficient: int, name: str = "x") -> str:
    if coefficient == 1:
        return name
    if coefficient == -1:
        return f"−{name}"
    return f"{coefficient}{name}".replace("-", "−")


def _number(value: int) -> str:
    return str(value).replace("-", "−")


def _arithmetic(rng: random.Random) -> Printed:
    a, b, c, d = (rng.randint(2, 19) for _ in range(4))
    form = rng.randrange(6)
    if form == 0:
        return Printed("arithmetic", f"{a} + {b} × {c}", plain(sympy.Integer(a + b * c)))
    if form == 1:
        total = c * rng.randint(2, 9)
        first = rng.randint(1, total - 1)
        return Printed("arithmetic", f"({first} + {total - first}) ÷ {c}", plain(sympy.Integer(total // c)))
    if form == 2:
        a = rng.randint(2, 9)
        return Printed("arithmetic", f"{a}² − {b} × ({c} − {d})", plain(sympy.Integer(a * a - b * (c - d))))
    if form == 3:
        return Printed("arithmetic", f"{a} − {b} + {c}", plain(sympy.Integer(a - b + c)))
    if form == 4:
        return Printed("arithmetic", f"{a} × {b} − {c}", plain(sympy.Integer(a * b - c)))
    a = rng.randint(2, 5)
    return Printed("arithmetic", f"{a}³ + {b}", plain(sympy.Integer(a**3 + b)))


def _fraction(rng: random.Random) -> Printed:
    b, d = rng.randint(2, 9), rng.randint(2, 9)
    a, c = rng.randint(1, b + 3), rng.randint(1, d + 3)
    p, q = sympy.Rational(a, b), sympy.Rational(c, d)
    form = rng.randrange(4)
    symbol, value = [("+", p + q), ("−", p - q), ("×", p * q), ("÷", p / q)][form]
    return Printed("fraction", f"{a}/{b} {symbol} {c}/{d}", plain(value))


def _linear(rng: random.Random) -> Printed:
    x = rng.randint(-9, 12)
    a = rng.choice([2, 3, 4, 5, 6, 7, 8, 9, -2, -3])
    b = rng.randint(-15, 15) or 4
    form = rng.randrange(4)
    if form == 0:
        return Printed("linear", f"{_term(a)} {_signed(b)} = {_number(a * x + b)}", f"x = {x}")
    if form == 1:
        a = abs(a)
        return Printed("linear", f"Solve {a}(x {_signed(b)}) = {_number(a * (x + b))}", f"x = {x}")
    if form == 2:
        c = rng.choice([v for v in range(-5, 6) if v not in (0, a)])
        d = a * x + b - c * x
        return Printed("linear", f"{_term(a)} {_signed(b)} = {_term(c)} {_signed(d)}", f"x = {x}")
    return Printed("linear", f"{_number(b)} {_signed(a)[0]} {abs(a)}x = {_number(b + a * x)}", f"x = {x}")


def _quadratic_text(a: int, b: int, c: int, caret: bool) -> str:
    square = "x^2" if caret else "x²"
    lead = square if a == 1 else f"{a}{square}"
    middle = "" if b == 0 else f" {'+' if b > 0 else '−'} {_term(abs(b))}"
    return f"{lead}{middle} {_signed(c)} = 0"


def _quadratic(rng: random.Random) -> Printed:
    caret = rng.random() < 0.25
    if rng.random() < 0.3:
        # Complex roots p ± qi: x² − 2px + (p² + q²).
        p, q = rng.randint(-4, 4), rng.randint(1, 4)
        roots = [sympy.Integer(p) - q * sympy.I, sympy.Integer(p) + q * sympy.I]
        text = _quadratic_text(1, -2 * p, p * p + q * q, caret)
    else:
        r1, r2 = sorted(rng.sample(range(-9, 10), 2))
        a = rng.choice([1, 1, 1, 2])
        roots = [sympy.Integer(r1), sympy.Integer(r2)]
        text = _quadratic_text(a, -a * (r1 + r2), a * r1 * r2, caret)
    return Printed("quadratic", text, " or ".join(f"x = {plain(r)}" for r in roots))


def _system(rng: random.Random) -> Printed:
    x, y = rng.randint(-6, 9), rng.randint(-6, 9)
    while True:
        a1, b1, a2, b2 = (rng.choice([1, 2, 3, -1, 4]) for _ in range(4))
        if a1 * b2 - a2 * b1 != 0:
            break

    def line(a: int, b: int) -> str:
        second = f"{'+' if b > 0 else '−'} {_term(abs(b), 'y')}"
        return f"{_term(a)} {second} = {_number(a * x + b * y)}"

    separator = "\n" if rng.random() < 0.7 else ", "
    return Printed("system", f"{line(a1, b1)}{separator}{line(a2, b2)}", f"x = {x}, y = {y}")


def _polynomial(rng: random.Random) -> Printed:
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    form = rng.randrange(5)
    if form == 0:
        return Printed("polynomial", f"Expand (x + {a})(x − {b})", plain(sympy.expand((X + a) * (X - b))))
    if form == 1:
        return Printed("polynomial", f"Factor x² − {a * a}", plain(sympy.factor(X**2 - a * a)))
    if form == 2:
        r1, r2 = rng.sample(range(1, 8), 2)
        expression = sympy.expand((X + r1) * (X + r2))
        return Printed("polynomial", f"Factor x² + {r1 + r2}x + {r1 * r2}", plain(sympy.factor(expression)))
    if form == 3:
        c = rng.randint(2, 6)
        return Printed("polynomial", f"Simplify {c}x + {a} − x + {b}", plain((c - 1) * X + a + b))
    return Printed("polynomial", f"Expand {a + 1}(x + {b})", plain(sympy.expand((a + 1) * (X + b))))


_MAKERS: dict[str, Callable[[random.Random], Printed]] = {
    "arithmetic": _arithmetic,
    "fraction": _fraction,
    "linear": _linear,
    "quadratic": _quadratic,
    "system": _system,
    "polynomial": _polynomial,
}


def render(
    text: str,
    *,
    font: Path | None,
    size: int,
    ink: int = 20,
    paper: int = 255,
    angle: float = 0.0,
    blur: float = 0.0,
    jpeg: bool = False,
) -> tuple[bytes, str]:
    """`text` drawn dark on light, as PNG or JPEG bytes and its MIME type."""
    face = _load_font(font, size)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = (
        round(v) for v in probe.multiline_textbbox((0, 0), text, font=face, spacing=size // 2)
    )
    margin = size
    image = Image.new("L", (right - left + 2 * margin, bottom - top + 2 * margin), paper)
    ImageDraw.Draw(image).multiline_text(
        (margin - left, margin - top), text, font=face, fill=ink, spacing=size // 2
    )
    if angle:
        image = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=paper)
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    out = io.BytesIO()
    if jpeg:
        image.convert("RGB").save(out, "JPEG", quality=85)
        return out.getvalue(), "image/jpeg"
    image.save(out, "PNG")
    return out.getvalue(), "image/png"


def cases(*, seed: int, per_kind: int) -> list[Case]:
    rng = random.Random(seed)
    fonts: list[Path | None] = list(font_paths()) or [None]
    made = []
    for index in range(per_kind):
        for kind in KINDS:
            problem = _MAKERS[kind](rng)
            font = fonts[(index + KINDS.index(kind)) % len(fonts)]
            size = rng.randint(22, 44)
            image, mime_type = render(
                problem.text,
                font=font,
                size=size,
                ink=rng.randint(0, 70),
                paper=rng.choice([255, 255, rng.randint(200, 240)]),
                angle=rng.uniform(-2.0, 2.0) if rng.random() < 0.6 else 0.0,
                blur=rng.uniform(0.3, 0.8) if rng.random() < 0.3 else 0.0,
                jpeg=rng.random() < 0.4,
            )
            made.append(Case(problem, image, mime_type, font.name if font else "Pillow default", size))
    return made
