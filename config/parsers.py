"""Request body parsers with bounds, set as DEFAULT_PARSER_CLASSES.

Python's json module recurses once per nesting level: a body of 100,000 `[`
raises RecursionError, which DRF's JSONParser does not catch (a 500). Every
JSON document the API reads (bodies, and `metadata` sent as a JSON string in
multipart forms) goes through `json_loads_bounded`, which refuses anything
nested deeper than JSON_MAX_DEPTH with a 400 validation-error.

Size and field-count limits (DATA_UPLOAD_MAX_MEMORY_SIZE,
DATA_UPLOAD_MAX_NUMBER_FIELDS / _FILES) are Django's; the exceptions they
raise while DRF parses are turned into problems by config.problems.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.settings import api_settings
from rest_framework.utils.json import strict_constant


def _too_deep() -> ValidationError:
    return ValidationError(f"JSON may be nested at most {settings.JSON_MAX_DEPTH} levels deep.")


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether `value` (parsed JSON) nests arrays/objects deeper than `limit`.
    Iterative, so it cannot itself run out of stack."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth + 1 > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def json_loads_bounded(text: str | bytes, *, strict: bool = True) -> Any:
    """json.loads that answers a too-deep document with a ValidationError
    (before and after parsing: Python gives up near 1,000 levels, the API
    allows far fewer). Malformed JSON raises ValueError, as json.loads does."""
    try:
        value = json.loads(text, parse_constant=strict_constant if strict else None)
    except RecursionError:
        raise _too_deep() from None
    if json_depth_exceeds(value, settings.JSON_MAX_DEPTH):
        raise _too_deep()
    return value


class JSONParser(parsers.JSONParser):
    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        encoding = parsers.get_encoding(parser_context or {})  # type: ignore[attr-defined]
        try:
            text = codecs.getreader(encoding)(stream).read()
            return json_loads_bounded(text, strict=api_settings.STRICT_JSON)
        except ValueError as exc:  # UnicodeDecodeError is one
            raise ParseError(f"JSON parse error - {exc}") from None
