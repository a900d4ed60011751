"""The connect page in a real browser (fixtures in this folder's conftest): reached
from the menu, an app password created with the button shows in the steps once,
the self-test reports every check, and a reload shows the password no more."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.live.admin.conftest import shot

pytestmark = pytest.mark.live


def test_member_connects_a_computer_from_the_menu(page_of: Any, site: LiveServer) -> None:
    page = page_of("mary")
    page.click("header nav a:text('Connect')")
    assert page.url.endswith("/files/connect")
    assert page.inner_text("#dav-url") == f"{site.url}/dav/"
    assert page.inner_text("#dav-login") == "mary"
    assert "pass = OBSCURED-APP-PASSWORD" in page.inner_text("#rclone-conf")

    page.fill("#label", "rclone on the desk computer")
    page.click("#create-app-password")
    assert "rclone on the desk computer" in page.inner_text(".done")
    token = page.inner_text("#new-app-password")
    assert len(token) >= 32
    conf = page.inner_text("#rclone-conf")
    assert f"url = {site.url}/dav/files/mary" in conf and "OBSCURED" not in conf
    assert token in page.inner_text("#davfs2-secrets")

    page.click("#run-self-test")
    results = page.locator("#self-test-results tbody tr")
    assert results.count() == 6
    outcomes = dict(zip(results.locator("td:nth-child(1)").all_inner_texts(),
                        results.locator("td:nth-child(2)").all_inner_texts(), strict=True))
    assert set(outcomes.values()) == {"ok"}, page.inner_text("#self-test-results")
    assert page.inner_text("#new-app-password") == token  # still on the page it came back to
    shot(page, "connect")

    page.goto("/files/connect")
    assert token not in page.content()
    assert page.is_visible("#create-app-password")
