"""Network parsing: the client's address read from ``X-Forwarded-For`` behind trusted proxies."""

from __future__ import annotations

from bastion.tools.network import client_ip, parse_networks


def test_client_ip_reads_the_chain_from_the_right() -> None:
    trusted = parse_networks(["10.0.0.0/8", "127.0.0.1"])
    assert client_ip("198.51.100.7", "1.2.3.4", trusted) == "198.51.100.7"  # peer not trusted
    assert client_ip("10.0.0.2", "1.2.3.4", trusted) == "1.2.3.4"
    # A client that writes its own X-Forwarded-For only prepends to the chain.
    assert client_ip("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.9", trusted) == "1.2.3.4"
    assert client_ip("10.0.0.2", "garbage, 1.2.3.4", trusted) == "1.2.3.4"
    assert client_ip("10.0.0.2", "1.2.3.4, garbage", trusted) == "10.0.0.2"
    assert client_ip("10.0.0.2", None, trusted) == "10.0.0.2"
    assert client_ip("10.0.0.2", "10.0.0.5", trusted) == "10.0.0.5"
