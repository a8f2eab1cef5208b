"""FlatInputSerializer: DRF's validation, with fields copied one level deep."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from rest_framework import serializers

from config.serializers import FlatInputSerializer


class _ContextChild(serializers.CharField):
    """A child field that reads the serializer's context through its parents."""

    def to_internal_value(self, data: Any) -> str:
        return f"{self.context['prefix']}{super().to_internal_value(data)}"


class _Point(serializers.Serializer):
    x = serializers.IntegerField()


def _fields() -> dict[str, serializers.Field]:
    return {
        "name": serializers.CharField(max_length=5),
        "kind": serializers.ChoiceField(choices=["a", "b"], default="a"),
        "tags": serializers.ListField(child=serializers.ChoiceField(choices=["x", "y"]), required=False),
        "grid": serializers.ListField(
            child=serializers.ListField(child=serializers.IntegerField(max_value=9)), required=False
        ),
        "labels": serializers.ListField(child=_ContextChild(), required=False),
        "point": _Point(required=False),
    }


Flat: Any = type("Flat", (FlatInputSerializer,), _fields())
Plain: Any = type("Plain", (serializers.Serializer,), _fields())

CASES = [
    {"name": "abc"},
    {"name": "abc", "kind": "b", "tags": ["x", "y"], "grid": [[1, 2], [3]], "point": {"x": 4}},
    {"name": "abcdef", "kind": "c"},
    {"tags": ["z"], "grid": [[1, 10], "no"], "point": {"x": "no"}},
    {"name": "a", "labels": ["p", "q"]},
    {"name": "a", "tags": "x"},
    {},
]


@pytest.mark.parametrize("data", CASES)
def test_it_validates_as_drf_does(data: dict[str, Any]) -> None:
    context = {"prefix": ">"}
    flat, plain = Flat(data=data, context=context), Plain(data=data, context=context)
    assert flat.is_valid() == plain.is_valid()
    assert flat.errors == plain.errors
    if not flat.errors:
        assert flat.validated_data == plain.validated_data


def test_each_instance_has_fields_of_its_own_bound_to_it() -> None:
    first, second = Flat(data={}), Flat(data={})
    for name in _fields():
        a, b = first.fields[name], second.fields[name]
        assert a is not b
        assert a is not Flat._declared_fields[name]
        assert (a.parent, b.parent) == (first, second)
    tags, grid = first.fields["tags"], first.fields["grid"]
    assert tags.child is not second.fields["tags"].child
    assert tags.child.parent is tags
    assert grid.child.parent is grid
    assert grid.child.child.parent is grid.child
    assert grid.child.child is not Flat._declared_fields["grid"].child.child
    assert first.fields["point"].fields["x"] is not second.fields["point"].fields["x"]


def test_a_child_field_reads_its_own_serializers_context() -> None:
    one = Flat(data={"name": "a", "labels": ["p"]}, context={"prefix": "1:"})
    two = Flat(data={"name": "a", "labels": ["p"]}, context={"prefix": "2:"})
    assert one.is_valid() and two.is_valid()
    assert (one.validated_data["labels"], two.validated_data["labels"]) == (["1:p"], ["2:p"])


def test_instances_validating_at_once_in_threads_keep_their_own_results() -> None:
    wrong: list[Any] = []

    def work(number: int) -> None:
        for _ in range(200):
            name = f"n{number}"
            serializer = Flat(data={"name": name, "grid": [[number]]}, context={"prefix": ""})
            if not serializer.is_valid() or serializer.validated_data["name"] != name:
                wrong.append((number, serializer.errors))
            bad = Flat(data={"name": name * 3}, context={"prefix": ""})
            if bad.is_valid() or "name" not in bad.errors:
                wrong.append((number, "accepted"))

    threads = [threading.Thread(target=work, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not wrong
