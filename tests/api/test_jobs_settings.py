"""Settings of the jobs feature refuse configurations that would fail jobs
later. Each case imports config.settings in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _settings(env: dict[str, str], expr: str = "None") -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "LOG_", "SECURE_", "OPENAI_", "MODEL_PRICES", "JOB_"))
    }
    clean.update({"DJANGO_DEBUG": "1", **env})
    code = f"import json, config.settings as s; print(json.dumps({expr}, default=str))"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def test_the_default_models_all_have_prices() -> None:
    result = _settings({}, "sorted(set([s.OPENAI_MODEL, *s.OPENAI_ALLOWED_MODELS]) - set(s.MODEL_PRICES))")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_an_allowed_model_without_a_price_stops_the_process() -> None:
    result = _settings({"OPENAI_ALLOWED_MODELS": "gpt-4o-mini,gpt-5-vision"})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "No MODEL_PRICES entry for gpt-5-vision" in result.stderr


def test_a_default_model_without_a_price_stops_the_process() -> None:
    prices = {"gpt-4o": {"input": "2.50", "output": "10.00"}}
    result = _settings(
        {"OPENAI_MODEL": "gpt-4o-mini", "OPENAI_ALLOWED_MODELS": "gpt-4o", "MODEL_PRICES": json.dumps(prices)}
    )
    assert result.returncode != 0
    assert "No MODEL_PRICES entry for gpt-4o-mini" in result.stderr


def test_model_prices_from_the_environment_replace_the_table() -> None:
    prices = {"m1": {"input": "1", "output": "2"}}
    result = _settings(
        {"OPENAI_MODEL": "m1", "OPENAI_ALLOWED_MODELS": "m1", "MODEL_PRICES": json.dumps(prices)},
        "s.MODEL_PRICES",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == prices


def test_the_run_deadline_rests_on_the_model_call_timeout() -> None:
    result = _settings({"OPENAI_TIMEOUT_S": "30"}, "s.JOB_RUN_DEADLINE_S")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == 90
