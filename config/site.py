from django.conf import settings


def absolute_url(path: str) -> str:
    """The public address of ``path`` on this site: built from SITE_SCHEME and
    SITE_HOST, never from a request's Host header."""
    return f"{settings.SITE_SCHEME}://{settings.SITE_HOST}{path}"
