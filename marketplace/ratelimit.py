"""Counting limits in the cache (Redis in production, where INCR is atomic).

Fixed windows: a key counts events for ``window`` seconds from its first event.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest | None) -> str:
    """The client's address: REMOTE_ADDR, or behind ``TRUSTED_PROXY_COUNT`` proxies the
    address the outermost trusted proxy saw (never a value the client chose)."""
    if request is None:
        return ""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return str(hops[-proxies])
    return str(request.META.get("REMOTE_ADDR", ""))


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.lower().encode()).hexdigest()[:32]
    return f"ratelimit:{kind}:{digest}"


def _count(key: str, window: int) -> int:
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return 1


def _over(key: str, limit: int) -> bool:
    return int(cache.get(key) or 0) >= limit


def login_blocked(*, request: HttpRequest | None, username: str) -> bool:
    """Too many failed sign-ins for this account, or from this address, lately."""
    return _over(_key("login-user", username), settings.LOGIN_FAILURE_LIMIT) or _over(
        _key("login-ip", client_ip(request)), settings.LOGIN_FAILURE_IP_LIMIT
    )


def login_failed(*, request: HttpRequest | None, username: str) -> None:
    window = settings.LOGIN_FAILURE_WINDOW
    _count(_key("login-user", username), window)
    _count(_key("login-ip", client_ip(request)), window)


def login_succeeded(*, username: str) -> None:
    cache.delete(_key("login-user", username))


def allow(*, action: str, subject: str, limit: int, window: int) -> bool:
    """Count one ``action`` by ``subject``; False once it happened more than
    ``limit`` times in the window."""
    return _count(_key(action, subject), window) <= limit
