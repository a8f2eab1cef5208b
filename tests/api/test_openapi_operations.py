"""The schema the API generates (drf-spectacular) has the operations of the
committed docs/openapi.yaml, the contract clients and schemathesis read, and
no generator error or warning. A view whose decoration goes to the wrong
method drops out of the schema silently: `make schema` would then rewrite
the contract without it, and schemathesis would test nothing of it."""

from __future__ import annotations

from pathlib import Path

import yaml
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _operations(schema: dict) -> dict[tuple[str, str], str]:
    return {
        (path, method): operation["operationId"]
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_the_generated_schema_has_the_contracts_operations() -> None:
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        generated = SchemaGenerator().get_schema(request=None, public=True)
    problems = {**GENERATOR_STATS._error_cache, **GENERATOR_STATS._warn_cache}
    GENERATOR_STATS.reset()
    assert not problems
    contract = yaml.safe_load(CONTRACT.read_text())
    assert _operations(generated) == _operations(contract)
    assert ("/api/v1/jobs/{job_id}", "get") in _operations(generated)
