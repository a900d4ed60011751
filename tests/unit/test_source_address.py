"""The client's source address: the peer's, or what a trusted proxy says (issue 14).

Rules (docs/security.md, "Throttling of failed sign-ins"):
- the peer's address (REMOTE_ADDR) is the source, unless the peer is one of
  ``server.trusted_proxies`` (addresses or CIDR networks);
- from a trusted proxy, X-Forwarded-For is read from the right: hops that are
  themselves trusted proxies are skipped, the first one that is not is the source;
- an X-Forwarded-For from an untrusted peer is ignored;
- a malformed value never raises: the walk stops at the last hop a trusted proxy
  vouched for.
"""

from __future__ import annotations

import pytest

from davdrive.source_address import (
    TrustedProxies,
    bad_proxy_entries,
    source_address,
    source_of,
)

PROXIES = TrustedProxies.parse(["10.0.0.1", "192.168.0.0/24", "2001:db8::/64"])


def test_without_trusted_proxies_the_peer_is_the_source_whatever_the_header_says() -> None:
    assert source_address("203.0.113.9", "198.51.100.1", TrustedProxies()) == "203.0.113.9"


def test_a_forwarded_for_from_an_untrusted_peer_is_ignored() -> None:
    assert source_address("203.0.113.9", "198.51.100.1", PROXIES) == "203.0.113.9"


def test_a_trusted_proxy_names_the_client() -> None:
    assert source_address("10.0.0.1", "198.51.100.1", PROXIES) == "198.51.100.1"


def test_the_right_most_hop_that_is_not_a_proxy_is_the_client() -> None:
    """What the client itself sent (the left part) is never believed."""
    header = "1.1.1.1, 198.51.100.7, 192.168.0.5"
    assert source_address("10.0.0.1", header, PROXIES) == "198.51.100.7"


def test_a_forged_left_part_does_not_change_the_source() -> None:
    forged = "6.6.6.6, 7.7.7.7"
    honest = "198.51.100.7"
    assert source_address("10.0.0.1", f"{forged}, {honest}", PROXIES) == honest


def test_only_proxies_in_the_chain_leave_the_nearest_one_as_source() -> None:
    assert source_address("10.0.0.1", "192.168.0.9, 192.168.0.5", PROXIES) == "192.168.0.9"


def test_a_trusted_peer_without_the_header_is_itself_the_source() -> None:
    assert source_address("10.0.0.1", None, PROXIES) == "10.0.0.1"
    assert source_address("10.0.0.1", "", PROXIES) == "10.0.0.1"


@pytest.mark.parametrize(
    ("header", "source"),
    [
        ("198.51.100.1:4711", "198.51.100.1"),
        ("[2001:db8:1::5]", "2001:db8:1::5"),
        ("[2001:db8:1::5]:443", "2001:db8:1::5"),
        ("2001:DB8:1:0::5", "2001:db8:1::5"),
        ("::ffff:198.51.100.1", "198.51.100.1"),
        ("  198.51.100.1  ", "198.51.100.1"),
    ],
)
def test_forwarded_addresses_are_read_in_their_usual_spellings(header: str, source: str) -> None:
    assert source_address("10.0.0.1", header, PROXIES) == source


@pytest.mark.parametrize(
    "header",
    ["unknown", "garbage, ", ",", "1.2.3.4.5", "[::1", "::1]:80", "x" * 5000, "\x00",
     "1.2.3.4:port", "1.2.3.4:99999", "[1.2.3.4]"],
)
def test_a_malformed_hop_stops_at_the_last_trusted_one_and_never_raises(header: str) -> None:
    assert source_address("10.0.0.1", header, PROXIES) == "10.0.0.1"
    # Behind a second trusted proxy, that proxy is the last hop vouched for.
    assert source_address("10.0.0.1", f"{header}, 192.168.0.5", PROXIES) == "192.168.0.5"


def test_malformed_hops_left_of_the_client_do_not_matter() -> None:
    assert source_address("10.0.0.1", "garbage, 198.51.100.1", PROXIES) == "198.51.100.1"


def test_a_peer_that_is_no_address_is_the_source_as_it_is() -> None:
    assert source_address("", "198.51.100.1", PROXIES) == ""
    assert source_address("not-an-ip", "198.51.100.1", PROXIES) == "not-an-ip"


def test_an_ipv4_mapped_peer_matches_an_ipv4_proxy() -> None:
    assert source_address("::ffff:10.0.0.1", "198.51.100.1", PROXIES) == "198.51.100.1"


def test_ipv6_proxies_and_clients() -> None:
    assert source_address("2001:db8::7", "2001:db8:5::1", PROXIES) == "2001:db8:5::1"
    assert source_address("2001:db8:9::7", "2001:db8:5::1", PROXIES) == "2001:db8:9::7"


def test_source_of_reads_a_wsgi_environ() -> None:
    environ = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}
    assert source_of(environ, PROXIES) == "198.51.100.1"
    assert source_of(environ, TrustedProxies()) == "10.0.0.1"
    assert source_of({}, PROXIES) == ""


def test_proxy_entries_are_addresses_or_networks() -> None:
    good = ["10.0.0.1", "192.168.0.0/24", "2001:db8::/64", "::1", "10.1.2.3/8"]
    assert bad_proxy_entries(good) == []
    assert bad_proxy_entries(["10.0.0.300", "proxy.example", "", 7, "10.0.0.0/33"]) == [
        "10.0.0.300", "proxy.example", "", 7, "10.0.0.0/33"]
    with pytest.raises(ValueError, match="proxy.example"):
        TrustedProxies.parse(["proxy.example"])


def test_a_host_address_with_bits_set_is_read_as_its_network() -> None:
    """'10.1.2.3/8' means the network 10.0.0.0/8 (not an error)."""
    proxies = TrustedProxies.parse(["10.1.2.3/8"])
    assert source_address("10.200.0.1", "198.51.100.1", proxies) == "198.51.100.1"
