"""The fetching tier: a news site on 127.0.0.1 (tests/fetching/newsserver.py) and a service on the
fake backends whose fetcher treats that one loopback address as a public site.

The default address rule refuses 127.0.0.1, as it must (test_address_rules.py checks it with the
default settings). To fetch from the local site with every other rule in force, the `service`
fixture keeps `RAG_FETCH_ALLOW_PRIVATE` off and replaces only the rule for 127.0.0.1 itself: a
redirect to 169.254.169.254 or 127.0.0.2 is still refused.
"""

from __future__ import annotations

import pytest

from rag.ingest.fetching import refusal
from tests.fetching.newsserver import NewsServer
from tests.unit.conftest import FAKE_PROFILE

# Short limits, so each hostile case costs a second or two (the defaults are 10 s and 30 s).
QUICK = {"host_delay": 0.0, "timeout": 1.0, "deadline": 2.0, "max_bytes": 1024 * 1024}


def loopback_is_public(address: str) -> str | None:
    return None if address == "127.0.0.1" else refusal(address)


@pytest.fixture
def site():
    with NewsServer() as server:
        yield server


@pytest.fixture
def make_service(tmp_path):
    """make_service(**settings) -> a Service over an empty corpus in tmp_path, fake backends."""
    from rag.config import Config
    from rag.ingest.feeds import Feeds
    from rag.service import Service

    def make(**settings):
        config = Config.from_env().with_(
            **FAKE_PROFILE, **{**QUICK, **settings}, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index",
        )
        config.paths.corpus_dir.mkdir(exist_ok=True)
        service = Service(config)
        service.feeds = Feeds(config, index=service.index, refuse=loopback_is_public)
        return service

    return make


@pytest.fixture
def service(make_service):
    return make_service()
