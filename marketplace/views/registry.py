from django.http import HttpRequest, JsonResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

from marketplace import declarations


@require_GET
def declaration_schema(request: HttpRequest) -> JsonResponse:
    """The JSON Schema of capability declarations, at its stable address."""
    response = JsonResponse(
        declarations.schema(),
        content_type="application/schema+json",
        json_dumps_params={"ensure_ascii": False, "indent": 2},
    )
    response["Access-Control-Allow-Origin"] = "*"
    patch_cache_control(response, public=True, max_age=3600)
    return response
