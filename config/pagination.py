from typing import TypeVar

from django.db.models import Model, QuerySet
from rest_framework import pagination, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

ModelT = TypeVar("ModelT", bound=Model)


class PageNumberPagination(pagination.PageNumberPagination):
    """Pages of ``page_size`` items (20 unless asked, at most 100)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


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
