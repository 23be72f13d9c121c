"""The public lookup of an agent by its identifier, through the API."""

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.exceptions import NotFound
from marketplace.protocols import did
from marketplace.selectors.agents import (
    IDENTIFIER_MAX_LENGTH,
    agent_get_by_identifier,
)


class AgentLookupApi(APIView):
    """The lookup record of the agent an identifier names: its did:web identifier
    or its ACPs identity code (``urn:oid:`` optional). The record is the same
    document as ``/agents/<publisher>/<agent>/profile.json``: who built the agent,
    its deployment, protocols, certificates, the publisher's grade, recalls and
    sanctions. 400 for text that is not an identifier; 404 for an identifier no
    listed agent has (``not_found``) or one of another registry
    (``not_from_this_registry``)."""

    permission_classes = [AllowAny]

    class FilterSerializer(serializers.Serializer[Any]):
        id = serializers.CharField(max_length=IDENTIFIER_MAX_LENGTH)

    # The record is did.lookup_record's public document, kept in one place there
    # so that this answer and profile.json never differ.
    @extend_schema(parameters=[FilterSerializer], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        agent = agent_get_by_identifier(identifier=filters.validated_data["id"])
        if agent is None:
            raise NotFound(_("No agent has this identifier."))
        return Response(did.lookup_record(agent))
