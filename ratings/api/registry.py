"""The public credit registry through the API: the rated entities (filters as
the registry page), an entity's credit profile (the same document as
``/credit/<publisher>.json``) and the dishonesty list in force. Public and
read-only; bad filters answer 400, an unknown entity 404."""

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.pagination import paginated_response
from config.site import absolute_url
from marketplace.credit import GRADES
from marketplace.exceptions import NotFound
from ratings.models import Rating, Sanction
from ratings.selectors.registry import (
    MATCH_AT_LEAST,
    MATCH_CHOICES,
    MATCH_EXACTLY,
    credit_document,
    credit_profile,
    entity_is_public,
    industry_body_by_slug,
    registry_dishonesty_list,
    registry_entity_get,
    registry_list,
)


class NamedSerializer(serializers.Serializer[Any]):
    slug = serializers.CharField()
    name = serializers.CharField()


class PageFilterSerializer(serializers.Serializer[Any]):
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100)


class EntityListApi(APIView):
    """The rated entities: one item per rating in force, by entity name.
    ``grade`` with ``match`` (``at_least``, the default, or ``exactly``),
    ``body`` (an industry body's short name) and ``q`` (in the name) filter."""

    permission_classes = [AllowAny]

    class FilterSerializer(PageFilterSerializer):
        q = serializers.CharField(required=False, allow_blank=True, max_length=100)
        grade = serializers.ChoiceField(choices=GRADES, required=False)
        match = serializers.ChoiceField(
            choices=MATCH_CHOICES, required=False, default=MATCH_AT_LEAST
        )
        body = serializers.SlugField(required=False, max_length=50)

    class OutputSerializer(serializers.Serializer[Rating]):
        entity = NamedSerializer()
        body = NamedSerializer(source="cycle.body")
        grade = serializers.CharField()
        provisional = serializers.BooleanField()
        score = serializers.DecimalField(max_digits=6, decimal_places=2)
        outlook = serializers.CharField()
        on_watch = serializers.BooleanField()
        dishonesty_listed = serializers.BooleanField(source="listed")
        published_at = serializers.DateTimeField()
        valid_until = serializers.DateTimeField(allow_null=True)
        credit_profile_url = serializers.SerializerMethodField()

        def get_credit_profile_url(self, rating: Rating) -> str:
            return absolute_url(
                reverse("credit-profile", kwargs={"publisher": rating.entity.slug})
            )

    @extend_schema(parameters=[FilterSerializer], responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        body = None
        if data.get("body"):
            body = industry_body_by_slug(slug=data["body"])
            if body is None:
                raise serializers.ValidationError(
                    {"body": [_("No industry body has this short name.")]}
                )
        grade = data.get("grade")
        exactly = data["match"] == MATCH_EXACTLY
        return paginated_response(
            request=request,
            view=self,
            queryset=registry_list(
                grade=grade if exactly else None,
                min_grade=None if exactly else grade,
                body=body,
                q=data.get("q") or None,
            ),
            serializer_class=self.OutputSerializer,
        )


class EntityCreditProfileApi(APIView):
    """An entity's credit profile, the document of ``/credit/<publisher>.json``:
    per industry body the current grade, its definition, outlook, watch,
    methodology, score, indicator breakdown (contributions add up to the
    score) and history; the dishonesty mark and the sanctions."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, slug: str) -> Response:
        entity = registry_entity_get(slug=slug)
        if entity is None:
            raise NotFound(_("No such publisher."))
        profile = credit_profile(entity=entity)
        if not entity_is_public(entity=entity, profile=profile):
            raise NotFound(_("No such publisher."))
        return Response(credit_document(profile=profile))


class DishonestyListApi(APIView):
    """The dishonesty list in force, newest first: active dishonesty-list
    sanctions that have not run out. Lifted and expired ones are not listed."""

    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer[Sanction]):
        entity = NamedSerializer()
        body = NamedSerializer()
        grade = serializers.CharField(source="rating.grade")
        reason = serializers.CharField()
        starts_at = serializers.DateTimeField()
        ends_at = serializers.DateTimeField()

    @extend_schema(
        parameters=[PageFilterSerializer], responses=OutputSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        PageFilterSerializer(data=request.query_params).is_valid(raise_exception=True)
        return paginated_response(
            request=request,
            view=self,
            queryset=registry_dishonesty_list(),
            serializer_class=self.OutputSerializer,
        )
