from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """Every `/api/` list: `?page=2&pageSize=100` → `{"count", "next", "previous", "results"}`.
    The course's routes stay plain lists, as the course's clients expect."""

    page_size = 50
    page_size_query_param = "pageSize"
    max_page_size = 500
