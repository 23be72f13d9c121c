from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    """Names the components of nested serializers after their view.

    Every API view nests serializers called InputSerializer and OutputSerializer; by
    default all of them would become the components "Input" and "Output". Here
    ``OrganizationCollectionApi.InputSerializer`` becomes
    ``OrganizationCollectionInput``.
    """

    def get_serializer_name(
        self, serializer: Any, direction: Literal["request", "response"]
    ) -> str:
        name = super().get_serializer_name(serializer, direction)
        owner, _, _nested = type(serializer).__qualname__.rpartition(".")
        if owner:
            return owner.split(".")[-1].removesuffix("Api") + name
        return name
