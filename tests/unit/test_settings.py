"""Settings: documented in one place, parsed by type, bad values refused with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Config, settings_table
from rag.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_lists_every_setting_as_config_py_declares_it():
    assert settings_table() in README.read_text(encoding="utf-8")


def test_values_are_parsed_by_type_and_overridden_by_name(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_TOP_K", "7")
    monkeypatch.setenv("CHROMA_SSL", "yes")
    monkeypatch.setenv("CHROMA_HEADERS", "Authorization=Bearer x, X-Team=news")
    monkeypatch.setenv("RAG_CORPUS_DIR", str(tmp_path))
    config = Config.from_env()
    assert config.retrieval.top_k == 7 and config.chroma.chroma_ssl is True
    assert config.chroma.chroma_headers == {"Authorization": "Bearer x", "X-Team": "news"}
    assert config.paths.corpus_dir == tmp_path
    changed = config.with_(top_k=3, host="0.0.0.0")
    assert (changed.retrieval.top_k, changed.web.host, changed.web.app_url) == (3, "0.0.0.0", "http://127.0.0.1:7860")
    with pytest.raises(ConfigError, match="Unknown setting"):
        config.with_(topk=3)


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("RAG_CHUNK_OVERLAP", "500", "smaller than RAG_CHUNK_TOKENS"),
        ("RAG_LLM_BACKEND", "gpt", "RAG_LLM_BACKEND must be one of"),
        ("RAG_LLM_TIMEOUT", "0", "RAG_LLM_TIMEOUT must be between"),
        ("RAG_PORT", "http", "RAG_PORT must be a whole number"),
    ],
)
def test_bad_values_are_one_line_errors(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message) as caught:
        Config.from_env()
    assert "\n" not in str(caught.value)


def test_the_llm_backend_follows_the_key_unless_chosen(monkeypatch):
    assert not Config.from_env().llm.enabled
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert Config.from_env().llm.enabled
    monkeypatch.setenv("RAG_LLM_BACKEND", "none")
    assert not Config.from_env().llm.enabled
