from __future__ import annotations

import logging

import pytest

from config.request_id import RequestIDLogFilter, accept_or_generate, get_request_id


def test_a_well_formed_incoming_id_is_echoed(client) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123_XYZ.9")
    assert response["X-Request-ID"] == "abc-123_XYZ.9"


@pytest.mark.parametrize(
    "bad", ["short", "has space in it", "x" * 200, "inject\nnewline-header", "<script>alert</script>"]
)
def test_a_malformed_incoming_id_is_replaced(client, bad: str) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID=bad)
    assert response["X-Request-ID"] != bad
    assert len(response["X-Request-ID"]) == 32


def test_each_request_gets_its_own_id(client) -> None:
    assert client.get("/healthz")["X-Request-ID"] != client.get("/healthz")["X-Request-ID"]


def test_the_id_is_cleared_after_the_request(client) -> None:
    client.get("/healthz")
    assert get_request_id() is None


def test_log_records_carry_the_request_id() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    RequestIDLogFilter().filter(record)
    assert record.request_id == "-"  # type: ignore[attr-defined]
    assert accept_or_generate(None) != accept_or_generate(None)
