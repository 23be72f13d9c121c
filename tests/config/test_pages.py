import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from config.views import server_error

pytestmark = pytest.mark.django_db


def test_home_page_renders_in_the_layout(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert "Find AI agents you can trust" in html
    assert 'href="/organizations/"' in html


def test_pages_send_a_content_security_policy(client: Client) -> None:
    policy = client.get("/")["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy


def test_404_page_is_in_the_layout(client: Client) -> None:
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert 'class="site-header"' in html


def test_403_page_is_in_the_layout(client: Client, user: object) -> None:
    from tests.marketplace.factories import OrganizationFactory

    organization = OrganizationFactory.create()
    client.force_login(user)  # type: ignore[arg-type]
    response = client.get(reverse("organization-settings", args=[organization.slug]))
    assert response.status_code == 403
    html = response.content.decode()
    assert "Access denied" in html
    assert 'class="site-header"' in html


def test_500_page_is_in_the_layout_and_needs_no_request_context() -> None:
    request = RequestFactory().get("/")
    response = server_error(request)
    assert response.status_code == 500
    html = response.content.decode()
    assert 'class="site-header"' in html
    assert "500" in html


def test_500_under_the_api_is_json() -> None:
    response = server_error(RequestFactory().get("/api/v1/organizations/"))
    assert response.status_code == 500
    assert b'"server_error"' in response.content


def test_api_root_schema_and_docs(client: Client) -> None:
    root = client.get("/api/v1/")
    assert root.status_code == 200
    assert root.json()["schema"].endswith("/api/schema/")
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/organizations/" in document["paths"]
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    # every asset comes from this site
    assert "https://" not in html
    assert "http://" not in html


def test_swagger_ui_needs_no_inline_script(client: Client) -> None:
    html = client.get("/api/docs/").content.decode()
    assert "<script>" not in html.replace(" ", "")
