"""Uploading several files in the web drive with a real browser (Chromium).

Rules: one submit is all or nothing (a file refused by name stores none of
the others, and the page names it with its reason); accepted files are stored
and listed; the script enhances the plain form (files dropped on the page join
it, a progress bar while it is sent) and the plain form works the same without
JavaScript.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer
from tests.live.admin.conftest import shot
from tests.web.conftest import password_of

pytestmark = pytest.mark.live


def _payload(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "mimeType": "application/octet-stream", "buffer": data}


def _dav_get(site: LiveServer, path: str) -> requests.Response:
    return requests.get(f"{site.url}/dav{path}", auth=("olga", password_of("olga")), timeout=30)


def _listed(page: Any) -> set[str]:
    return set(page.eval_on_selector_all("#listing tr.file",
                                         "rows => rows.map(r => r.dataset.name)"))


def test_one_refused_name_stores_none_then_valid_files_are_stored(
    page_of: Any, site: LiveServer
) -> None:
    page = page_of("olga")
    page.goto("/files/Minutes")
    # the script ran: it added the progress bar (hidden until a submit) to the form
    assert page.locator("#upload-form #upload-progress").count() == 1
    page.set_input_files("#upload-files", [
        _payload("agenda.txt", b"1. welcome"),
        _payload("CON.txt", b"a device name on Windows"),
        _payload("budget.csv", b"hall;120"),
    ])
    page.click("#upload-submit")
    page.wait_for_selector("#upload-refusals")
    refused = page.locator("#upload-refusals li").all_inner_texts()
    assert len(refused) == 1 and refused[0].startswith("CON.txt:")
    assert "reserved device name" in refused[0]
    shot(page, "files-upload-refused")
    for name in ("agenda.txt", "CON.txt", "budget.csv"):
        assert _dav_get(site, f"/Minutes/{name}").status_code == 404, name
    assert _listed(page) == {"2026-11-assembly.txt"}
    # the refusal page is enhanced again
    page.wait_for_selector("#upload-form #upload-progress", state="attached")

    page.set_input_files("#upload-files", [
        _payload("agenda.txt", b"1. welcome"), _payload("budget.csv", b"hall;120")])
    page.click("#upload-submit")
    page.wait_for_selector("#upload-done")
    assert "Stored 2 files: agenda.txt, budget.csv." in page.inner_text("#upload-done")
    assert _listed(page) == {"2026-11-assembly.txt", "agenda.txt", "budget.csv"}
    assert _dav_get(site, "/Minutes/budget.csv").content == b"hall;120"
    shot(page, "files-upload-stored")


def test_files_dropped_on_the_page_join_the_form(page_of: Any, site: LiveServer) -> None:
    page = page_of("olga")
    page.goto("/files/Minutes")
    page.set_input_files("#upload-files", [_payload("chosen.txt", b"chosen")])
    page.evaluate("""() => {
        const transfer = new DataTransfer();
        transfer.items.add(new File(["dropped"], "dropped.txt", {type: "text/plain"}));
        const main = document.querySelector("main");
        main.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true,
                                                      cancelable: true}));
        main.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true,
                                                  cancelable: true}));
    }""")
    names = page.eval_on_selector("#upload-files", "i => Array.from(i.files, f => f.name)")
    assert names == ["chosen.txt", "dropped.txt"]
    assert "2 file(s) chosen" in page.inner_text("#upload-status")
    page.click("#upload-submit")
    page.wait_for_selector("#upload-done")
    assert {"chosen.txt", "dropped.txt"} <= _listed(page)
    assert _dav_get(site, "/Minutes/dropped.txt").content == b"dropped"


def test_without_javascript_the_plain_form_does_the_same(chromium: Any, site: LiveServer) -> None:
    context = chromium.new_context(base_url=site.url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/admin/")
        page.fill("#login", "olga")
        page.fill("#password", password_of("olga"))
        page.click("#signin")
        page.goto("/files/Minutes")
        assert page.locator("#upload-progress").count() == 0  # no script, no progress bar
        page.set_input_files("#upload-files", [
            _payload("one.txt", b"one"), _payload("two?.txt", b"two")])
        page.click("#upload-submit")
        page.wait_for_selector("#upload-refusals")
        assert re.search(r"two\?\.txt", page.inner_text("#upload-refusals"))
        assert _dav_get(site, "/Minutes/one.txt").status_code == 404
        page.set_input_files("#upload-files", [
            _payload("one.txt", b"one"), _payload("two.txt", b"two")])
        page.click("#upload-submit")
        page.wait_for_selector("#upload-done")
        assert {"one.txt", "two.txt"} <= _listed(page)
        assert _dav_get(site, "/Minutes/two.txt").content == b"two"
    finally:
        context.close()
