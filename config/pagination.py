from functools import cached_property
from typing import Any, TypeVar

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import Model, QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework import pagination, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

ModelT = TypeVar("ModelT", bound=Model)


class CappedPaginator(Paginator[Any]):
    """A paginator that counts at most ``COUNT_CAP`` rows: an exact ``COUNT(*)`` of a
    search that matches tens of thousands of rows costs as much as the search
    itself. ``capped`` says whether more rows match than the count says; past the
    cap, pages still go on, each one reading one row more than it shows to know
    whether another follows, up to ``MAX_ROWS`` rows in all (OFFSET costs grow with
    the page number: narrow the search to reach further)."""

    COUNT_CAP = 1000
    MAX_ROWS = 10_000
    capped = False

    @cached_property
    def count(self) -> int:
        # Only querysets are paginated here.
        # Counting needs neither the order nor the annotations (a search's rank).
        rows = self.object_list.order_by().values("pk")  # type: ignore[attr-defined]
        counted: int = rows[: self.COUNT_CAP + 1].count()
        self.capped = counted > self.COUNT_CAP
        return min(counted, self.COUNT_CAP)

    def validate_number(self, number: Any) -> int:
        if self.count < self.COUNT_CAP or not self.capped:
            return super().validate_number(number)
        try:
            valid = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(_("That page number is not an integer")) from None
        if valid < 1:
            raise EmptyPage(_("That page number is less than 1"))
        if (valid - 1) * self.per_page >= self.MAX_ROWS:
            raise EmptyPage(_("That page contains no results"))
        return valid

    def get_page(self, number: Any) -> Page[Any]:
        try:
            return super().get_page(number)
        except EmptyPage:  # past the last row of a capped count
            return self.page(self.num_pages)

    def page(self, number: Any) -> Page[Any]:
        if self.count < self.COUNT_CAP or not self.capped:
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom : bottom + self.per_page + 1])
        if not rows and number > 1:
            raise EmptyPage(_("That page contains no results"))
        return CappedPage(
            rows[: self.per_page], number, self, more=len(rows) > self.per_page
        )


class CappedPage(Page[Any]):
    """A page past the count's cap: it knows whether another follows."""

    def __init__(
        self, object_list: Any, number: int, paginator: Paginator[Any], *, more: bool
    ) -> None:
        super().__init__(object_list, number, paginator)
        self.more = more

    def has_next(self) -> bool:
        return self.more


class PageNumberPagination(pagination.PageNumberPagination):
    """Pages of ``page_size`` items (20 unless asked, at most 100). The count stops
    at ``CappedPaginator.COUNT_CAP``; ``count_capped`` says when it did."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    django_paginator_class = CappedPaginator

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        paginator = self.page.paginator if self.page else None
        response.data["count_capped"] = bool(getattr(paginator, "capped", False))
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        described = super().get_paginated_response_schema(schema)
        described["properties"]["count_capped"] = {
            "type": "boolean",
            "description": "Whether more items match than the count says.",
        }
        return described


def paginated_response(
    *,
    request: Request,
    view: APIView,
    queryset: QuerySet[ModelT],
    serializer_class: type[serializers.BaseSerializer[ModelT]],
) -> Response:
    """One page of ``queryset``, serialized, with the count and the links to the
    neighbouring pages."""
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(queryset, request, view=view) or []
    serializer = serializer_class(page, many=True)  # type: ignore[arg-type]  # many=True takes a list
    return paginator.get_paginated_response(serializer.data)
