"""Base for serializers of query parameters."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any

from rest_framework import serializers
from rest_framework.fields import empty


class QueryParamsSerializer(serializers.Serializer):
    """A parameter sent blank (`?until=`) is refused, not taken as absent as
    DRF's form handling would: the client meant something by it."""

    @classmethod
    def parse(cls, query_params: Mapping[str, Any]) -> dict[str, Any]:
        """The validated parameters; a ValidationError (a 400) for a bad one.
        Most requests send none (a poll, a first page): they get the
        defaults, validated once per class where they are constants, since a
        serializer costs tens of microseconds to build and run."""
        if not query_params and (defaults := cls._defaults()) is not None:
            return dict(defaults)
        serializer = cls(data=query_params)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @classmethod
    @cache
    def _defaults(cls) -> Mapping[str, Any] | None:
        """None when a field's default is a callable (the time now, say):
        computed per request, it cannot be kept. An exception (a required
        parameter) is not cached either: raised each time."""
        serializer = cls(data={})
        if any(f.default is not empty and callable(f.default) for f in serializer.fields.values()):
            return None
        serializer.is_valid(raise_exception=True)
        return MappingProxyType(dict(serializer.validated_data))

    def to_internal_value(self, data: Any) -> Any:
        blank = {
            name: ["May not be blank."]
            for name, _field in self.fields.items()
            if name in data and data.get(name) == ""
        }
        if blank:
            raise serializers.ValidationError(blank)
        return super().to_internal_value(data)
