"""What a worker process loads: the tasks, not the web's OpenAPI machinery."""

from __future__ import annotations

import os
import subprocess
import sys


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", "import django, sys; django.setup(); " + code],
        env=os.environ,  # the suite's settings module and services
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip()


def test_a_worker_does_not_load_the_schema_machinery() -> None:
    """drf-spectacular's plumbing imports Django's test client (about 4 MB an
    interpreter); only the processes that serve the URLs need it."""
    loaded = _run(
        "import workers.tasks; "
        "names = ('accounts.schema', 'drf_spectacular.plumbing', 'django.test'); "
        "print(sorted(m for m in names if m in sys.modules))"
    )
    assert loaded == "[]"


def test_the_urls_register_the_bearer_scheme_for_the_schema() -> None:
    registered = _run(
        "import config.urls; "
        "from drf_spectacular.extensions import OpenApiAuthenticationExtension as E; "
        "target = 'accounts.authentication.BearerTokenAuthentication'; "
        "print([e.name for e in E._registry if e.target_class == target])"
    )
    assert registered == "['bearerAuth']"
