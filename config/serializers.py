"""Serializer bases shared by the apps."""

from __future__ import annotations

import copy
from typing import Any

from rest_framework import serializers


class FlatInputSerializer(serializers.Serializer):
    # No docstring: drf-spectacular would publish it (inspect.getdoc looks up
    # the bases) as the description of every subclass in the OpenAPI schema.
    #
    # An input serializer whose fields are copied one level deep for each
    # instance. DRF deep-copies every declared field (`get_fields`), which
    # rebuilds each one from its arguments: for the submission's seven fields
    # about half of the time its validation takes, on every request. A
    # field's own state is set by `bind`, on the copy; what the copies share
    # (validators, choices, error messages) is only read. A child field (a
    # ListField's), which its parent's constructor bound already, is copied
    # too, with the parent's copy as its parent. A nested serializer is
    # deep-copied, as DRF does.

    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: _copied(field) for name, field in self._declared_fields.items()}


def _copied(field: Any) -> Any:
    if isinstance(field, serializers.BaseSerializer):
        return copy.deepcopy(field)
    copied = copy.copy(field)
    if isinstance(getattr(field, "child", None), serializers.Field):
        copied.child = _copied(field.child)
        copied.child.parent = copied
    return copied
