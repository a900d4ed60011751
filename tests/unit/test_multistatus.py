"""String rendering of multistatus parts gives what WsgiDAV's helpers give."""

from email.utils import formatdate
from urllib.parse import quote

from wsgidav import util

from provider.multistatus import HREF_SAFE, HttpDates, escape_text, quote_href


def test_memoised_dates_equal_wsgidav_dates_at_second_edges() -> None:
    """Rule: getlastmodified/Last-Modified and creationdate are WsgiDAV's formats,
    also where rounding to microseconds moves a stamp to the next second."""
    dates = HttpDates()
    for stamp in (0.0, 1.2, 1.9999999, 1.9999994, 2.0, 1_700_000_000.5,
                  1_700_000_000.9999996, 1_700_000_001.0):
        for _ in range(2):  # computed, then memoised
            assert dates.rfc1123(stamp) == util.get_rfc1123_time(stamp), stamp
            assert dates.rfc3339(stamp) == util.get_rfc3339_time(stamp), stamp
    assert dates.now()[-3:] == formatdate(usegmt=True)[-3:]


def test_escaping_and_quoting_match_the_slow_forms() -> None:
    for text in ("plain.txt", "R&D <b>.txt", "tab\there", "café", "a\rb", ""):
        expected = (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                    .replace("\r", "&#13;"))
        assert escape_text(text) == expected
    for path in ("/dav/a b/", "/dav/100%/", "/dav/plain-name_1.txt", "/dav/ü/", "/dav/~x"):
        assert quote_href(path) == quote(path, safe=HREF_SAFE)
