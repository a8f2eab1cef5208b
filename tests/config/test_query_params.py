"""QueryParamsSerializer.parse: what the views read their query strings with."""

from __future__ import annotations

import pytest
from django.http import QueryDict
from rest_framework import serializers

from config.query_params import QueryParamsSerializer


class _Page(QueryParamsSerializer):
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    status = serializers.CharField(required=False)


class _Lookup(QueryParamsSerializer):
    token = serializers.CharField()


class _Since(QueryParamsSerializer):
    """A default computed per request, as `timezone.now` would be."""

    calls = 0

    @classmethod
    def _next(cls) -> int:
        cls.calls += 1
        return cls.calls

    since = serializers.IntegerField(required=False, default=lambda: _Since._next())


def test_no_parameter_gives_the_defaults_every_time() -> None:
    first = _Page.parse(QueryDict(""))
    assert first == {"limit": 20}
    first["limit"] = 99  # the caller's copy: the next request is unaffected
    first["status"] = "x"
    assert _Page.parse(QueryDict("")) == {"limit": 20}


def test_parameters_are_validated_after_the_defaults_were() -> None:
    assert _Page.parse(QueryDict("")) == {"limit": 20}
    assert _Page.parse(QueryDict("limit=5&status=queued")) == {"limit": 5, "status": "queued"}
    for bad in ("limit=0", "limit=abc", "limit=", "status="):
        with pytest.raises(serializers.ValidationError):
            _Page.parse(QueryDict(bad))


def test_other_parameters_than_its_fields_are_not_its_business() -> None:
    # A paginator's ?cursor= is read elsewhere; the defaults still apply.
    assert _Page.parse(QueryDict("cursor=abc")) == {"limit": 20}


def test_a_required_parameter_missing_is_refused_every_time() -> None:
    for _ in range(2):
        with pytest.raises(serializers.ValidationError) as refused:
            _Lookup.parse(QueryDict(""))
        assert "token" in refused.value.detail
    assert _Lookup.parse(QueryDict("token=abc")) == {"token": "abc"}


def test_a_default_computed_per_request_is_computed_per_request() -> None:
    first = _Since.parse(QueryDict(""))["since"]
    assert _Since.parse(QueryDict(""))["since"] == first + 1
    assert _Since.parse(QueryDict("since=5")) == {"since": 5}
