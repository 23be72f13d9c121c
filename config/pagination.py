from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """Pages of ``page_size`` items (20 unless asked, at most 100)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
