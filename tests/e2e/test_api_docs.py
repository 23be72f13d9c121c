from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("path", ["/api/docs/"])
def test_api_docs_render_from_local_assets_within_the_csp(
    page: Any, live_server: Any, path: str
) -> None:
    requests: list[str] = []
    violations: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    page.goto(f"{live_server.url}{path}")
    page.get_by_text("/api/v1/organizations/").first.wait_for()
    assert [url for url in requests if not url.startswith(live_server.url)] == []
    assert violations == []
