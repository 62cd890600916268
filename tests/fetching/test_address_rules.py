"""Where the fetcher may go: the default rules refuse the local server itself, names are checked
after DNS resolution (every address), each redirect hop is checked, and the connection goes to the
address that was checked."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from rag.config import Config
from rag.ingest.feeds import FeedError, Feeds
from rag.ingest.fetching import FetchError, Fetcher
from tests.fetching.conftest import QUICK, loopback_is_public
from tests.fetching.newsserver import NewsServer


def settings(**changes):
    return Config().with_(**{**QUICK, **changes}).fetch


def test_the_default_settings_refuse_the_local_server_before_connecting(site, tmp_path):
    config = Config().with_(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    assert config.fetch.allow_private is False
    with Fetcher(config.fetch) as fetcher:
        with pytest.raises(FetchError, match=r"refused: 127\.0\.0\.1 is a loopback address \(RAG_FETCH_ALLOW_PRIVATE=1"):
            fetcher.get(site.url("/feed.xml"), kind="feed")
        with pytest.raises(FetchError, match=r"refused: localhost resolves to a loopback address") as refused:
            fetcher.get(f"http://localhost:{site.port}/feed.xml", kind="feed")
        assert "127.0.0.1" not in str(refused.value) and "::1" not in str(refused.value)
    web = Feeds(config, index=lambda: None)  # the same rule behind `rag feeds add` and the app
    with pytest.raises(FeedError, match="loopback address"):
        web.add(site.url("/feed.xml"))
    assert sum(site.hits.values()) == 0  # nothing reached the server, not even robots.txt


@pytest.mark.parametrize("address, why", [
    ("169.254.169.254", "a cloud metadata address"),
    ("10.0.0.7", "a private address"),
    ("192.168.1.1", "a private address"),
    ("169.254.10.1", "a link-local address"),
    ("::1", "a loopback address"),
    ("::ffff:127.0.0.1", "a loopback address"),
    ("fd00:ec2::254", "a cloud metadata address"),
    ("100.64.0.1", "not a public address"),
    ("0.0.0.0", "a private address"),  # "this host": Python counts 0.0.0.0/8 as private
    # IPv6 addresses that carry an IPv4 one are judged by it (or refused outright).
    ("2002:7f00:1::", "a loopback address inside an IPv6 address"),  # 6to4 of 127.0.0.1
    ("2002:a9fe:a9fe::", "a cloud metadata address inside an IPv6 address"),  # 6to4 of 169.254.169.254
    ("2002:c0a8:101::1", "a private address inside an IPv6 address"),  # 6to4 of 192.168.1.1
    ("64:ff9b::a00:1", "a private address inside an IPv6 address"),  # NAT64 of 10.0.0.1
    ("64:ff9b::7f00:1", "a loopback address inside an IPv6 address"),
    ("64:ff9b:1::a00:1", "a local-use NAT64 address"),
    ("::a00:1", "a private address inside an IPv6 address"),  # IPv4-compatible 10.0.0.1
    ("::ffff:169.254.169.254", "a cloud metadata address"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "a Teredo tunnel address"),
    ("fec0::1", "a site-local address"),
    ("fec0:0:0:ffff::1", "a site-local address"),
])
def test_addresses_that_are_refused_by_default(address, why):
    # A name resolving to the address is refused before any connection is tried.
    with Fetcher(settings(), resolver=lambda host, port: [address]) as fetcher:
        with pytest.raises(FetchError, match=f"news.example resolves to {why}") as refused:
            fetcher.get("http://news.example/feed.xml", kind="feed")
    assert address not in str(refused.value)  # what the server's DNS says is not shown


@pytest.mark.parametrize("address", ["2002:5db8:d70e::1", "64:ff9b::5db8:d70e", "2606:4700::6810:84e5"])
def test_ipv6_addresses_carrying_a_public_ipv4_are_public(address):
    from rag.ingest.fetching import refusal

    assert refusal(address) is None  # NAT64 of a public address: how an IPv6-only host reaches IPv4 sites


def test_a_slow_dns_answer_costs_at_most_the_timeout():
    def slow(host, port):
        time.sleep(3)
        return ["93.184.215.14"]

    started = time.monotonic()
    with Fetcher(settings(timeout=0.5), resolver=slow) as fetcher:
        with pytest.raises(FetchError, match=r"no DNS answer for news\.example within 0\.5 s"):
            fetcher.get("http://news.example/feed.xml", kind="feed")
    assert time.monotonic() - started < 2


def test_a_name_with_any_refused_address_is_refused():
    with Fetcher(settings(), resolver=lambda host, port: ["93.184.215.14", "10.1.2.3"]) as fetcher:
        with pytest.raises(FetchError, match=r"news\.example resolves to a private address") as refused:
            fetcher.get("http://news.example/feed.xml", kind="feed")
    assert "10.1.2.3" not in str(refused.value)


def test_the_connection_goes_to_the_address_that_was_checked(site):
    """`coastal.test` cannot be resolved by the system: the fetch works only because the client
    connects to the address our resolver returned and checked, sending the name as the Host."""
    resolved = []

    def resolver(host, port):
        resolved.append(host)
        return ["127.0.0.1"]

    with Fetcher(settings(), resolver=resolver, refuse=loopback_is_public) as fetcher:
        fetched = fetcher.get(f"http://coastal.test:{site.port}/feed.xml", kind="feed")
    assert fetched.status == 200 and b"<rss" in fetched.body
    assert set(resolved) == {"coastal.test"}


def test_each_redirect_hop_is_checked(site):
    with Fetcher(settings(), refuse=loopback_is_public) as fetcher:
        with pytest.raises(FetchError, match=r"169\.254\.169\.254 is a cloud metadata address"):
            fetcher.get(site.url("/hostile/to-metadata"))
    assert site.hits["/hostile/to-metadata"] == 1


@pytest.mark.parametrize("url, message", [
    ("file:///etc/passwd", "only http and https"),
    ("ftp://example.org/feed.xml", "only http and https"),
    ("gopher://127.0.0.1:70/", "only http and https"),
    ("http://user:secret@example.org/feed.xml", "user name or password"),
    ("http:///nohost", "no host"),
    ("http://example.org:99999/", "not a valid URL"),
])
def test_only_plain_http_and_https_urls(url, message):
    with Fetcher(settings()) as fetcher:
        with pytest.raises(FetchError, match=message):
            fetcher.get(url)


def test_allow_private_lets_intranet_feeds_through(site):
    with Fetcher(settings(allow_private=True)) as fetcher:
        assert fetcher.get(site.url("/feed.xml"), kind="feed").status == 200


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for coastal.test (openssl), which also serves as its own CA."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=coastal.test", "-addext", "subjectAltName=DNS:coastal.test"],
                   check=True, capture_output=True)
    return cert, key


def test_https_goes_to_the_checked_address_and_verifies_the_host_name(certificate, monkeypatch):
    import certifi

    with NewsServer(tls=certificate) as site:
        resolver = lambda host, port: ["127.0.0.1"]  # noqa: E731
        with Fetcher(settings(), resolver=resolver, refuse=loopback_is_public) as fetcher:
            with pytest.raises(FetchError, match="TLS error with coastal.test"):  # not signed by a known CA
                fetcher.get(f"https://coastal.test:{site.port}/feed.xml", kind="feed")
        monkeypatch.setattr(certifi, "where", lambda: str(certificate[0]))  # now it is
        with Fetcher(settings(), resolver=resolver, refuse=loopback_is_public) as fetcher:
            assert b"<rss" in fetcher.get(f"https://coastal.test:{site.port}/feed.xml", kind="feed").body
            with pytest.raises(FetchError, match="TLS error with other.test"):  # the certificate names coastal.test
                fetcher.get(f"https://other.test:{site.port}/feed.xml", kind="feed")
