"""Both languages, on every page, from complete catalogues."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.test import Client
from django.urls import reverse

from tests.marketplace.factories import MembershipFactory

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def test_the_chinese_catalogue_is_complete_and_compiled() -> None:
    po = polib.pofile(str(CATALOGUE))
    assert len(po) > 100
    assert [entry.msgid for entry in po.untranslated_entries()] == []
    assert [entry.msgid for entry in po.fuzzy_entries()] == []
    mo = polib.mofile(str(CATALOGUE.with_suffix(".mo")))
    compiled = {(entry.msgctxt, entry.msgid): entry for entry in mo}
    for entry in po.translated_entries():
        assert (entry.msgctxt, entry.msgid) in compiled, f"not compiled: {entry.msgid}"
        assert compiled[(entry.msgctxt, entry.msgid)].msgstr == entry.msgstr


def test_every_string_of_the_code_and_templates_is_in_the_catalogue(
    tmp_path: Path,
) -> None:
    if shutil.which("xgettext") is None:
        if os.environ.get("AGENTSTORE_REQUIRE_ALL"):
            pytest.fail("GNU gettext (xgettext) is missing, and CI requires this test")
        pytest.skip("GNU gettext (xgettext) is not installed; .ci/run installs it")
    # Extract afresh into a copy and compare message ids with the committed catalogue.
    copy = tmp_path / "project"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(".venv", "var", ".git", "__pycache__", "*.mo"),
    )
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "--locale",
            "zh_Hans",
            "--no-obsolete",
            "--ignore",
            "tests/*",
        ],
        cwd=copy,
        check=True,
        capture_output=True,
        env={"DJANGO_SETTINGS_MODULE": "config.settings.test", "PATH": "/usr/bin:/bin"},
    )
    fresh = polib.pofile(str(copy / "locale/zh_Hans/LC_MESSAGES/django.po"))
    committed = {(entry.msgctxt, entry.msgid) for entry in polib.pofile(str(CATALOGUE))}
    missing = sorted(
        entry.msgid for entry in fresh if (entry.msgctxt, entry.msgid) not in committed
    )
    assert missing == [], "run `make messages` and translate these"


PUBLIC_PAGES = [
    "/",
    "/organizations/",
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password-reset/",
    "/accounts/password-reset/done/",
    "/no/such/page/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_render_in_both_languages(path: str) -> None:
    english = Client(HTTP_ACCEPT_LANGUAGE="en").get(path)
    chinese = Client(HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").get(path)
    assert english.status_code == chinese.status_code
    assert english.status_code in (200, 404)
    english_html, chinese_html = english.content.decode(), chinese.content.decode()
    assert '<html lang="en">' in english_html
    assert '<html lang="zh-Hans">' in chinese_html
    # the navigation is translated
    assert "Organisations</a>" in english_html
    assert "组织</a>" in chinese_html
    assert "Organisations</a>" not in chinese_html


@pytest.mark.django_db
def test_member_pages_render_in_both_languages() -> None:
    owner = MembershipFactory.create(role="owner")
    pages = [
        reverse("profile"),
        reverse("organization-create"),
        reverse("organization-detail", args=[owner.organization.slug]),
        reverse("organization-settings", args=[owner.organization.slug]),
        reverse("password_change"),
    ]
    for language, marker, absent in (
        ("en", "Sign out", "退出登录"),
        ("zh-hans", "退出登录", "Sign out"),
    ):
        browser = Client(HTTP_ACCEPT_LANGUAGE=language)
        browser.force_login(owner.user)
        for page in pages:
            html = browser.get(page).content.decode()
            assert marker in html, (language, page)
            assert absent not in html, (language, page)


@pytest.mark.django_db
def test_switching_language_shows_the_chinese_home_page_and_back() -> None:
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert "Find AI agents you can trust" in browser.get("/").content.decode()
    response = browser.post(
        reverse("set_language"), {"language": "zh-hans", "next": "/"}
    )
    assert response.status_code == 302
    html = browser.get("/").content.decode()
    assert '<html lang="zh-Hans">' in html
    assert "Find AI agents you can trust" not in html
    assert "查找" in html or "寻找" in html or "发现" in html
    browser.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Find AI agents you can trust" in browser.get("/").content.decode()


@pytest.mark.django_db
def test_a_signed_in_users_language_choice_is_remembered() -> None:
    owner = MembershipFactory.create()
    browser = Client()
    browser.force_login(owner.user)
    browser.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    owner.user.refresh_from_db()
    assert owner.user.preferred_language == "zh-hans"
