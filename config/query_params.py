"""Base for serializers of query parameters."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class QueryParamsSerializer(serializers.Serializer):
    """A parameter sent blank (`?until=`) is refused, not taken as absent as
    DRF's form handling would: the client meant something by it."""

    def to_internal_value(self, data: Any) -> Any:
        blank = {
            name: ["May not be blank."]
            for name, _field in self.fields.items()
            if name in data and data.get(name) == ""
        }
        if blank:
            raise serializers.ValidationError(blank)
        return super().to_internal_value(data)
