"""Settings come from the environment and refuse unsafe or nonsensical values.
Each case imports config.settings in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import env_bool

ROOT = Path(__file__).resolve().parents[2]


def _settings(env: dict[str, str], expr: str = "None") -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "LOG_", "SECURE_", "CELERY_"))
    }
    clean.update(env)
    code = f"import json, config.settings as s; print(json.dumps({expr}, default=str))"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off() -> None:
    result = _settings({"DJANGO_DEBUG": "0"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_it_rejects_a_nonsense_boolean() -> None:
    result = _settings({"DJANGO_DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DJANGO_DEBUG='maybe' is not a boolean" in result.stderr


def test_production_defaults_are_strict() -> None:
    result = _settings(
        {"DJANGO_SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "api.example.com"},
        "[s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS]",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [False, True, True, True, 31536000]


def test_database_url_selects_postgresql() -> None:
    result = _settings(
        {"DJANGO_DEBUG": "1", "DATABASE_URL": "postgres://u:p@db.example:5432/imagesolve"},
        "s.DATABASES['default']['ENGINE']",
    )
    # Django's backend with its timestamps read in C (config/postgresql).
    assert json.loads(result.stdout) == "config.postgresql"


@pytest.mark.parametrize(("flag", "threshold"), [("", 5), ("0", None)])
def test_prepared_statements_follow_their_setting(flag: str, threshold: int | None) -> None:
    env = {"DJANGO_DEBUG": "1", "DATABASE_URL": "postgres://u:p@db.example:5432/imagesolve"}
    if flag:
        env["DATABASE_PREPARED_STATEMENTS"] = flag
    result = _settings(env, "s.DATABASES['default']['OPTIONS'].get('prepare_threshold')")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == threshold


def test_postgresql_connections_come_from_a_bounded_pool() -> None:
    url = "postgres://u:p@db.example:5432/imagesolve"
    result = _settings(
        {"DJANGO_DEBUG": "1", "DATABASE_URL": url, "DATABASE_POOL_MAX_SIZE": "12"},
        "[s.DATABASES['default']['CONN_MAX_AGE'], s.DATABASES['default']['OPTIONS']['pool']]",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [0, {"min_size": 2, "max_size": 12, "timeout": 5}]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CONN_MAX_AGE": "60"}, "CONN_MAX_AGE must be 0 with DATABASE_POOL"),
        (
            {"DATABASE_POOL_MAX_SIZE": "1"},
            "DATABASE_POOL_MIN_SIZE must be between 1 and DATABASE_POOL_MAX_SIZE",
        ),
    ],
    ids=["persistent-connections", "min-above-max"],
)
def test_it_refuses_a_pool_it_cannot_keep(env: dict[str, str], message: str) -> None:
    result = _settings({"DJANGO_DEBUG": "1", "DATABASE_URL": "postgres://u:p@db.example:5432/x", **env})
    assert result.returncode != 0
    assert message in result.stderr


def test_without_the_pool_connections_persist_as_before() -> None:
    result = _settings(
        {"DJANGO_DEBUG": "1", "DATABASE_URL": "postgres://u:p@db.example:5432/x", "DATABASE_POOL": "0"},
        "[s.DATABASES['default']['CONN_MAX_AGE'], 'pool' in s.DATABASES['default'].get('OPTIONS', {})]",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [60, False]


def test_without_database_url_sqlite_is_tuned_for_concurrent_writers(tmp_path) -> None:
    result = _settings(
        {"DJANGO_DEBUG": "1", "SQLITE_PATH": str(tmp_path / "db.sqlite3")},
        "s.DATABASES['default']['OPTIONS']",
    )
    options = json.loads(result.stdout)
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]
    assert "busy_timeout" in options["init_command"]


def test_without_redis_url_the_embedded_server_socket_is_used(tmp_path) -> None:
    result = _settings(
        {"DJANGO_DEBUG": "1", "REDIS_URL": "", "EMBEDDED_REDIS_DIR": str(tmp_path)},
        "[s.REDIS_URL, s.CELERY_BROKER_URL]",
    )
    assert json.loads(result.stdout) == [
        f"unix://{tmp_path}/redis.sock",
        f"redis+socket://{tmp_path}/redis.sock",
    ]


def test_celery_broker_url_switches_the_broker_and_leaves_redis_to_the_rest() -> None:
    result = _settings(
        {
            "DJANGO_DEBUG": "1",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "REDIS_CACHE_URL": "",
            "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/imagesolve",
        },
        "[s.CELERY_BROKER_URL, s.REDIS_URL, s.CACHES['default']['LOCATION']]",
    )
    assert json.loads(result.stdout) == [
        "amqp://guest:guest@127.0.0.1:5672/imagesolve",
        "redis://127.0.0.1:6379/0",
        "redis://127.0.0.1:6379/0",
    ]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"JOB_LEASE_S": "8", "JOB_LEASE_RENEW_S": "5"},
            "JOB_LEASE_S must be at least twice JOB_LEASE_RENEW_S",
        ),
        (
            {"WEBHOOK_ATTEMPT_LEASE_S": "15", "WEBHOOK_TOTAL_TIMEOUT_S": "15"},
            "WEBHOOK_ATTEMPT_LEASE_S must exceed WEBHOOK_TOTAL_TIMEOUT_S",
        ),
        (
            {"CELERY_WORKER_PREFETCH_MULTIPLIER": "0"},
            "CELERY_WORKER_PREFETCH_MULTIPLIER must be at least 1",
        ),
    ],
    ids=["job-lease", "webhook-attempt-lease", "prefetch-unlimited"],
)
def test_it_refuses_a_lease_that_would_run_out_under_a_live_run(env: dict[str, str], message: str) -> None:
    result = _settings({"DJANGO_DEBUG": "1", **env})
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("true", True), ("Off", False), ("", False)])
def test_env_bool_accepts_the_usual_spellings(monkeypatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("SOME_FLAG", raw)
    assert env_bool("SOME_FLAG") is expected


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"OPENAI_API_KEY": "", "SOLVER": ""}, "local"),
        ({"OPENAI_API_KEY": "sk-x", "SOLVER": ""}, "openai"),
        ({"OPENAI_API_KEY": "sk-x", "SOLVER": "auto"}, "auto"),
        ({"OPENAI_API_KEY": "sk-x", "SOLVER": "local"}, "local"),
        ({"OPENAI_API_KEY": "", "SOLVER": "mock"}, "mock"),
    ],
)
def test_solver_defaults_to_the_model_with_a_key_and_to_local_without(
    env: dict[str, str], expected: str
) -> None:
    result = _settings({"DJANGO_DEBUG": "1", **env}, "s.SOLVER")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SOLVER": "gpt"}, "SOLVER must be one of openai, local, auto, mock, not 'gpt'"),
        ({"SOLVER": "auto", "OPENAI_API_KEY": ""}, "SOLVER=auto needs OPENAI_API_KEY"),
        ({"SOLVER": "openai", "OPENAI_API_KEY": ""}, "SOLVER=openai needs OPENAI_API_KEY"),
    ],
)
def test_a_solver_that_cannot_work_stops_the_process(env: dict[str, str], message: str) -> None:
    result = _settings({"DJANGO_DEBUG": "1", **env})
    assert result.returncode != 0
    assert message in result.stderr
