from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """Every `/api/` list: `?page=2&pageSize=100` → `{"count", "next", "previous", "results"}`.
    The course's routes stay plain lists, as the course's clients expect."""

    page_size = 50
    page_size_query_param = "pageSize"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        # DRF falls back to the default on a malformed pageSize, and answers 404 to page=0;
        # a client that sent either has a bug it should hear about.
        for name, largest in ((self.page_query_param, None), (self.page_size_query_param, self.max_page_size)):
            raw = request.query_params.get(name)
            if raw is not None and not _whole_number_between(raw, 1, largest):
                bound = f"from 1 to {largest}" if largest else "of 1 or more"
                raise ValidationError({name: [f"A whole number {bound} is required, got {raw!r}."]})
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
        return parameters


def _whole_number_between(raw: str, low: int, high: int | None) -> bool:
    return raw.isascii() and raw.isdigit() and low <= int(raw) and (high is None or int(raw) <= high)
