"""What a model provider takes and gives back, and how it fails."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

DEFAULT_PROMPT = (
    "Solve the problem shown in the image. Explain the steps briefly, write "
    "mathematics in LaTeX, and end with a line 'Final answer: ...'."
)
SYSTEM_PROMPT = (
    "You are a careful tutor who solves problems from photos and scans "
    "(mathematics, diagrams, handwriting). If the image holds no problem, "
    "describe what it shows."
)


@dataclass(frozen=True)
class SolveRequest:
    image: bytes
    mime_type: str
    prompt: str
    model: str
    detail: str
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class Answer:
    text: str
    model: str
    input_tokens: int
    cached_tokens: int
    output_tokens: int


class ProviderError(Exception):
    """A failed call. `code` is stable and shown to clients; `retryable`
    errors (rate limits, 5xx, timeouts, lost connections) may pass, and
    `retry_after` is the provider's own hint in seconds."""

    def __init__(self, code: str, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after


class Provider(Protocol):
    def solve(self, request: SolveRequest) -> Answer: ...


_FINAL = re.compile(r"^\s*\**\s*final answer\s*\**\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_LATEX = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|\$([^$\n]+?)\$", re.DOTALL)


def answer_result(text: str) -> dict[str, Any]:
    """The job's `result`: the model's text, plus the final answer and the
    LaTeX expressions found in it (convenient for clients that render maths)."""
    finals = _FINAL.findall(text)
    latex = [next(group for group in match if group).strip() for match in _LATEX.findall(text)]
    return {"text": text, "final_answer": finals[-1] if finals else None, "latex": latex}
