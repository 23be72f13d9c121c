"""How the site starts: refusing to run unsafely, and passing Django's deploy checks."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SIGNING_KEY = "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg"  # a test seed, not a secret


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "CELERY_", "REDIS_"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_without_a_secret_key_refuses_to_start() -> None:
    result = _run(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_ALLOWED_HOSTS": "store.example.com",
            "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/x",
        },
        "check",
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_off_without_a_secret_key_refuses_to_start_in_development_too() -> None:
    result = _run(
        {"DJANGO_SETTINGS_MODULE": "config.settings.local", "DJANGO_DEBUG": "False"},
        "check",
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_production_on_sqlite_refuses_to_start() -> None:
    result = _run(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "x" * 60,
            "DJANGO_ALLOWED_HOSTS": "store.example.com",
            "SITE_SIGNING_KEY": SIGNING_KEY,
        },
        "check",
    )
    assert result.returncode != 0
    assert "PostgreSQL" in result.stderr


def test_check_deploy_with_production_settings_prints_no_warnings() -> None:
    result = _run(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "k8Jx2-production-like-secret-enough-entropy-9Qz7vT3",
            "DJANGO_ALLOWED_HOSTS": "store.example.com",
            "SITE_SIGNING_KEY": SIGNING_KEY,
            "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/x",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
            "REDIS_URL": "redis://127.0.0.1:6379/1",
        },
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_without_a_signing_key_refuses_to_start() -> None:
    result = _run(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "x" * 60,
            "DJANGO_ALLOWED_HOSTS": "store.example.com",
            "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/x",
        },
        "check",
    )
    assert result.returncode != 0
    assert "SITE_SIGNING_KEY" in result.stderr
