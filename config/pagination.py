"""Cursor pagination that answers a bad cursor or page size with 400.

DRF's CursorPagination answers an undecodable cursor with 404 (the resource
exists; the request is wrong), lets a cursor's position reach the query
unchecked (a 500 when it is not a valid value of the ordering field), and
ignores a page size it cannot read."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.views import APIView


class CursorPagination(pagination.CursorPagination):
    def _invalid_cursor(self) -> ValidationError:
        return ValidationError({self.cursor_query_param: [str(self.invalid_cursor_message)]})

    def get_page_size(self, request: Request) -> int | None:
        name = self.page_size_query_param
        if not name or name not in request.query_params:
            return self.page_size
        raw = request.query_params[name]
        limit = self.max_page_size or self.page_size or 1
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= limit):
            raise ValidationError({name: [f"Must be an integer from 1 to {limit}."]})
        return int(raw)

    def paginate_queryset(
        self, queryset: Any, request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            raise self._invalid_cursor() from None
        except (DjangoValidationError, ValueError, OverflowError):
            # The cursor decoded, but its position is no value of the field.
            raise self._invalid_cursor() from None

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size or self.page_size,
                }
        return parameters
