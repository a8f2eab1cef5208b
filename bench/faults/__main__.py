"""`python -m bench.faults` (`make faults`): run the fault suite and put its
section into bench/report.md, leaving the other benchmarks' sections as
they are."""

from __future__ import annotations

import sys
import time

from bench.faults import suite
from bench.run import REPORT, Report, _replace_section


def main() -> int:
    report = Report("faults")
    suite.run(report)
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    section = "\n".join([f"## {report.title}", "", f"_Run on {stamp} UTC._", "", *report.lines, ""]) + "\n"
    text = REPORT.read_text() if REPORT.exists() else "# Benchmarks\n"
    REPORT.write_text(_replace_section(text, section, report.title))
    print(f"wrote the {report.title!r} section of {REPORT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
