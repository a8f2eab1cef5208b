"""Run every benchmark (`bench/bench_*.py`, each with a `run(report)`) and
write bench/report.md. `make bench`; `python bench/run.py bench_local_solver`
runs (and reports) only the modules named.

Each module runs in its own process, so each may point Django at the
database it needs before setting it up."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
REPORT = BENCH_DIR / "report.md"


class Report:
    """What a benchmark hands back: lines of Markdown under its heading."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.lines: list[str] = []

    def line(self, text: str = "") -> None:
        self.lines.append(text)

    def table(self, header: list[str], rows: list[list[object]]) -> None:
        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("|" + "---|" * len(header))
        for row in rows:
            self.lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
        self.lines.append("")

    def skip(self, reason: str) -> None:
        self.lines.append(f"Skipped: {reason}")


def _run_one(name: str, out: Path) -> None:
    """In the child process: run one module and dump its report as JSON."""
    sys.path.insert(0, str(ROOT))
    import importlib

    module = importlib.import_module(f"bench.{name}")
    report = Report(name)
    module.run(report)
    out.write_text(json.dumps({"title": report.title, "lines": report.lines}))


def _replace_section(text: str, section: str, title: str) -> str:
    """`text` with its `## title` section (up to the next `## `) replaced by
    `section`, or with `section` appended."""
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        return pattern.sub(lambda _: section, text, count=1)
    return text.rstrip("\n") + "\n\n" + section


def _machine() -> list[str]:
    return [
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()})",
    ]


def main(only: list[str]) -> int:
    modules = sorted(p.stem for p in BENCH_DIR.glob("bench_*.py") if not only or p.stem in only)
    sections: list[tuple[str, str]] = []
    failed = False
    for name in modules:
        print(f"== {name}", flush=True)
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "report.json"
            proc = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--one", name, str(out)],
                cwd=ROOT,
                check=False,
            )
            if proc.returncode == 0 and out.exists():
                data = json.loads(out.read_text())
                title, lines = data["title"], data["lines"]
            else:
                failed = True
                # The title the module would have used is not known; a later
                # successful run replaces this section by the module's name.
                title, lines = name, [f"Failed (exit status {proc.returncode}); see the console."]
        took = f"_({name} took {time.monotonic() - started:.1f} s in all, setup included.)_"
        sections.append((title, "\n".join([f"## {title}", "", *lines, "", took, "", ""])))
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    header = "\n".join(
        [
            "# Benchmarks",
            "",
            f"Written by `make bench` (bench/run.py); last run {stamp} UTC.",
            "",
            *_machine(),
            "- database: as each section says",
            "",
            "",
        ]
    )
    if only and REPORT.exists():
        # Some modules only: their sections are replaced, the others kept.
        text = REPORT.read_text()
        text = header + text[text.index("## ") :] if "## " in text else header
    else:
        text = header
    for title, section in sections:
        text = _replace_section(text, section, title)
    REPORT.write_text(text)
    print(f"wrote {REPORT}")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        _run_one(sys.argv[2], Path(sys.argv[3]))
    else:
        sys.exit(main(sys.argv[1:]))
