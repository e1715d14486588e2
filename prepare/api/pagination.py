"""Page-number pagination whose cost does not grow with the table.

A page reads ``page_size + 1`` rows (the extra one says whether a next page
exists) and the total is counted over at most ``COUNT_CAP + 1`` rows, so a
caseload page costs the same at ten cases or a million (DESIGN.md, "Totals
are the hidden linear cost").
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import remove_query_param, replace_query_param

from prepare.cases.selectors import COUNT_CAP

# Deep offsets are linear in the database; past this a client should filter.
MAX_PAGE = 100_000


def _positive(raw: str | None) -> int | None:
    if raw is None or not raw.isdigit() or len(raw) > 9:
        return None
    value = int(raw)
    return value if value > 0 else None


class CappedPagination(BasePagination):
    page_size: int = api_settings.PAGE_SIZE or 50
    max_page_size = 100
    page_query_param = "page"
    page_size_query_param = "page_size"

    request: Request
    number: int
    size: int
    has_next: bool
    count: int
    count_capped: bool

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        raw_page = request.query_params.get(self.page_query_param)
        number = 1 if raw_page is None else _positive(raw_page)
        if number is None or number > MAX_PAGE:
            raise NotFound(_("Invalid page."))
        self.number = number
        self.size = self._page_size(request)
        offset = (self.number - 1) * self.size
        rows = list(queryset[offset : offset + self.size + 1])
        self.has_next = len(rows) > self.size
        rows = rows[: self.size]
        if not rows and self.number > 1:
            raise NotFound(_("Invalid page."))
        # Counted in the list's own order: where an index gives that order (the
        # caseload's grant index), the count is the same bounded range scan as
        # the page; unordered, PostgreSQL would gather every row of the
        # organisation first.
        total = queryset.values("pk")[: COUNT_CAP + 1].count()
        self.count = min(total, COUNT_CAP)
        self.count_capped = total > COUNT_CAP
        return rows

    def _page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = _positive(raw)
        if size is None or size > self.max_page_size:
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        _("Give a whole number from 1 to %(max)d.") % {"max": self.max_page_size}
                    ]
                }
            )
        return size

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.page_query_param, self.number + 1)

    def get_previous_link(self) -> str | None:
        if self.number <= 1:
            return None
        url = self.request.build_absolute_uri()
        if self.number == 2:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, self.number - 1)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "count": self.count,
                "count_capped": self.count_capped,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["count", "count_capped", "next", "previous", "results"],
            "properties": {
                "count": {
                    "type": "integer",
                    "description": f"Number of results, counted up to {COUNT_CAP}.",
                },
                "count_capped": {
                    "type": "boolean",
                    "description": f"True when there are more than {COUNT_CAP} results.",
                },
                "next": {"type": "string", "format": "uri", "nullable": True},
                "previous": {"type": "string", "format": "uri", "nullable": True},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "Page number, from 1.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page (default {self.page_size}, "
                f"at most {self.max_page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]


def capped_pages(view: Any, request: Request) -> tuple[CappedPagination, Any]:
    """A paginator for ``view`` and the function a selector pages its queryset
    with (``paginate(queryset) -> rows``), so that the selector audits exactly
    the rows it returns."""
    paginator = CappedPagination()
    return paginator, lambda qs: paginator.paginate_queryset(qs, request, view)
