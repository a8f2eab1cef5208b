"""`celery worker` without the rest of Celery's command line (bin/worker).

The `celery` command imports every one of its subcommands and the plugins
installed for them before it runs one: Flower's, with Tornado and
prometheus_client, and the shell's prompt_toolkit: about 12 MB a worker
process that it never uses (bench/report.md). This runs Celery's own `worker`
command, options and all, on the project's app.

Run it as bin/worker does: gevent's or eventlet's monkey-patching (a `--pool`
of theirs) has to come before this package imports the app, so the caller
applies celery.maybe_patch_concurrency() first.
"""

from __future__ import annotations

import sys

from celery.bin.base import CLIContext
from celery.bin.worker import worker

from workers.celery import app


def main() -> None:
    """Start a worker with `celery worker`'s options from the command line
    (`--queues`, `--pool`, ...); exits with the worker's exit code."""
    context = CLIContext(app=app, no_color=False, workdir=None)  # the `celery` command's defaults
    worker.main(args=sys.argv[1:], obj=context, prog_name="celery worker")
