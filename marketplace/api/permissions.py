from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from marketplace.models import User
from marketplace.selectors.organizations import is_operator


class IsAuthenticated(BasePermission):
    """Signed in (session or token)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user.is_authenticated)


class IsOperator(BasePermission):
    """Signed in as the platform operator: staff, or an owner, administrator or
    reviewer of the operator."""

    message = _("Only the platform operator does this.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return isinstance(user, User) and user.is_authenticated and is_operator(user)
