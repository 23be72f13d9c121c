from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView


class ApiRootApi(APIView):
    """The entry point of the API: where its collections and documents are."""

    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        def link(name: str) -> str:
            return reverse(name, request=request)

        return Response(
            {
                "version": "v1",
                "organizations": link("api-organization-list"),
                "me": link("api-me"),
                "token": link("api-token"),
                "schema": link("api-schema"),
                "docs": link("api-docs"),
            }
        )
