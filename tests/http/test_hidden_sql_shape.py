"""Rule 4, timing channel: a hidden path costs exactly what a missing one costs.

Security finding 2: GET of an existing invisible folder took about twice as
long as a missing one, because the pass-through queries ran only when an
invisible node was met. Here every method, on every kind of hidden path, must
run the same SQL statements (same count, same text, in the same order) as the
same method on a path that does not exist. Parameters may differ; the shape
of the work may not.
"""

from __future__ import annotations

import pytest

from tests.conftest import recorded_statements
from tests.http.club import METHODS, Club, _request

# hidden path -> a missing path of the same depth and shape
PAIRS = {
    "/Club/Degree3.txt": "/Club/Nothing-here.txt",  # degree above the member's
    "/Club/Budget.txt": "/Club/Nothing-here.txt",  # excluded doc type
    "/Club/Deep/Inner.txt": "/Club/Nowhere/Inner.txt",  # inside a hidden folder
    "/Club/Deep": "/Club/Nowhere",  # the hidden folder itself
}


def _run(club: Club, method: str, path: str) -> tuple[int, list[str]]:
    carol = club.as_("carol")
    _request(carol, method, "/Club/Public.txt")  # warm the credential cache alike
    with recorded_statements(club.runtime.engine) as seen:
        status = _request(carol, method, path)[0]
    return status, seen


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("hidden", sorted(PAIRS))
def test_hidden_and_missing_paths_run_the_same_sql(club: Club, method: str, hidden: str) -> None:
    status_hidden, hidden_sql = _run(club, method, hidden)
    status_missing, missing_sql = _run(club, method, PAIRS[hidden])
    assert status_hidden == status_missing
    assert len(hidden_sql) == len(missing_sql), (
        f"{method} {hidden}: {len(hidden_sql)} statements, missing path "
        f"{len(missing_sql)}:\n" + "\n".join(hidden_sql) + "\n--- vs ---\n"
        + "\n".join(missing_sql)
    )
    assert hidden_sql == missing_sql, f"{method} {hidden}: statements differ"


def test_the_control_a_visible_path_costs_differently(club: Club) -> None:
    """The comparison can fail: listing a readable file's properties runs other
    statements (its dead properties, its locks) than a missing path."""
    _, visible = _run(club, "PROPFIND", "/Club/Public.txt")
    _, missing = _run(club, "PROPFIND", "/Club/Nothing-here.txt")
    assert visible != missing


LISTING_BODIES = (
    "",
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/>'
    "<D:getcontentlength/><D:getlastmodified/><D:getetag/></D:prop></D:propfind>",
)


@pytest.mark.parametrize("body", LISTING_BODIES)
@pytest.mark.parametrize("hidden", sorted(PAIRS))
def test_hidden_and_missing_listings_run_the_same_sql(club: Club, hidden: str,
                                                       body: str) -> None:
    """PROPFIND Depth 1 (the read fast path's most common request) on a hidden path
    runs the statements of the same request on a missing path."""
    carol = club.as_("carol")

    def run(path: str) -> tuple[int, list[str]]:
        carol("PROPFIND", "/dav/Club/Public.txt", body, Depth="1")  # warm alike
        with recorded_statements(club.runtime.engine) as seen:
            status = carol("PROPFIND", "/dav" + path, body, Depth="1").status_code
        return status, seen

    status_hidden, hidden_sql = run(hidden)
    status_missing, missing_sql = run(PAIRS[hidden])
    assert status_hidden == status_missing == 404
    assert hidden_sql == missing_sql, f"PROPFIND Depth 1 {hidden}: statements differ"
