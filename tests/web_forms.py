"""Driving the web views over real HTTP as a browser without JavaScript would.

``csrf_token(page)`` is the token of a page's form; ``signed_in(root, login,
password)`` a ``requests.Session`` signed in through the sign-in form (its
session cookie set), for tests that talk to a real server process.
"""

from __future__ import annotations

import re

import requests

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(page: str) -> str:
    """The CSRF token of the (first) form in ``page``."""
    found = _CSRF.search(page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def signed_in(root: str, login: str, password: str) -> requests.Session:
    """A session signed in to the web view served at ``root`` (scheme://host:port)."""
    browser = requests.Session()
    page = browser.get(root + "/admin/signin", timeout=30)
    signed = browser.post(root + "/admin/signin", timeout=30, data={
        "login": login, "password": password, "next": "", "csrf_token": csrf_token(page.text),
    })
    assert signed.status_code == 200 and browser.cookies.get("davdrive_session"), signed.text
    return browser
