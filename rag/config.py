"""All configuration in one place: environment variables with defaults.

Every variable is documented in the README and in `.env.example`. Nothing else in the
package reads `os.environ` for settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROMPTS_DIR = PROJECT_ROOT / "prompts"

LOCAL_EMBED_MODEL = "local:all-MiniLM-L6-v2"


def _dotenv() -> dict[str, str]:
    """KEY=VALUE lines of a `.env` file in the working folder; the real environment wins."""
    path = Path(".env")
    if not path.is_file():
        return {}
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip("'\"")
    return values


_DOTENV: dict[str, str] = {}


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name, _DOTENV.get(name))
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    raw = _env(name)
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _float(name: str, default: float) -> float:
    raw = _env(name)
    try:
        return float(raw) if raw is not None else default
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _path(name: str, default: Path) -> Path:
    raw = _env(name)
    return Path(raw).expanduser() if raw else default


@dataclass(frozen=True)
class Config:
    """Settings for one pipeline. Build it with `Config.from_env()`; override with `.with_()`."""

    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "index"
    collection: str = "news"

    # Chunks are sized for MiniLM, which reads at most 256 word pieces and silently truncates
    # the rest: 200 tiktoken tokens stay under that limit for English news text.
    chunk_tokens: int = 200
    chunk_overlap: int = 30
    max_file_bytes: int = 20 * 1024 * 1024
    # Each corpus file is loaded (an upload also chunked) in a worker process (rag/ingest/isolation.py),
    # because a crafted file can make a parser loop or eat memory rather than fail. A document (a
    # JSONL line) may take this many seconds, a whole file this many per started megabyte, before
    # the worker is killed and the file skipped; the worker may use this much memory beyond its own.
    load_timeout: float = 60.0
    load_memory_mb: int = 2048

    embed_model: str = LOCAL_EMBED_MODEL
    embed_threads: int = 0  # 0: all cores
    embed_base_url: str | None = None  # OpenAI-compatible embeddings server; default OPENAI_BASE_URL

    top_k: int = 5
    # A retrieved chunk is read (and cited) with this many neighbouring chunks on each side:
    # matching on small chunks keeps retrieval precise, reading the window around them finds
    # the answer that sits a paragraph away from the words the question shares with the article.
    context_chunks: int = 1
    context_tokens: int = 3000
    max_question_chars: int = 2000

    openai_api_key: str | None = None
    openai_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout: float = 30.0
    llm_max_tokens: int = 512

    host: str = "127.0.0.1"
    port: int = 7860
    auth: str | None = None  # "user:password", enables the app's login
    public_url: str | None = None  # the app's address as users reach it (behind a proxy, on 0.0.0.0)
    max_upload_bytes: int = 5 * 1024 * 1024

    chroma_host: str | None = None
    chroma_port: int = 8000
    chroma_ssl: bool = False
    chroma_headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> "Config":
        global _DOTENV
        _DOTENV = _dotenv()
        headers = {}
        for pair in (_env("CHROMA_HEADERS") or "").split(","):
            if "=" in pair:
                key, value = pair.split("=", 1)
                headers[key.strip()] = value.strip()
        return cls(
            corpus_dir=_path("RAG_CORPUS_DIR", cls.corpus_dir),
            index_dir=_path("RAG_INDEX_DIR", cls.index_dir),
            collection=_env("RAG_COLLECTION", cls.collection),
            chunk_tokens=_int("RAG_CHUNK_TOKENS", cls.chunk_tokens),
            chunk_overlap=_int("RAG_CHUNK_OVERLAP", cls.chunk_overlap),
            load_timeout=_float("RAG_LOAD_TIMEOUT", cls.load_timeout),
            load_memory_mb=_int("RAG_LOAD_MEMORY_MB", cls.load_memory_mb),
            embed_model=_env("RAG_EMBED_MODEL", cls.embed_model),
            embed_threads=_int("RAG_EMBED_THREADS", cls.embed_threads),
            embed_base_url=_env("RAG_EMBED_BASE_URL", _env("OPENAI_BASE_URL")),
            top_k=_int("RAG_TOP_K", cls.top_k),
            context_chunks=_int("RAG_CONTEXT_CHUNKS", cls.context_chunks),
            context_tokens=_int("RAG_CONTEXT_TOKENS", cls.context_tokens),
            max_question_chars=_int("RAG_MAX_QUESTION_CHARS", cls.max_question_chars),
            openai_api_key=_env("OPENAI_API_KEY"),
            openai_base_url=_env("OPENAI_BASE_URL"),
            llm_model=_env("RAG_LLM_MODEL", cls.llm_model),
            llm_timeout=_float("RAG_LLM_TIMEOUT", cls.llm_timeout),
            llm_max_tokens=_int("RAG_LLM_MAX_TOKENS", cls.llm_max_tokens),
            host=_env("RAG_HOST", cls.host),
            port=_int("RAG_PORT", cls.port),
            auth=_env("RAG_AUTH"),
            public_url=_env("RAG_PUBLIC_URL"),
            max_upload_bytes=_int("RAG_MAX_UPLOAD_BYTES", cls.max_upload_bytes),
            chroma_host=_env("CHROMA_HOST"),
            chroma_port=_int("CHROMA_PORT", cls.chroma_port),
            chroma_ssl=(_env("CHROMA_SSL", "false").lower() in ("1", "true", "yes")),
            chroma_headers=headers,
        )

    def __post_init__(self):
        """Refuse values that would only fail later, deep inside a run, with a traceback."""
        for name, low, high in _RANGES:
            value = getattr(self, name)
            if not low <= value <= high:
                raise ConfigError(f"{_ENV_NAMES.get(name, name)} must be between {low} and {high}, got {value}")
        if self.chunk_overlap >= self.chunk_tokens:
            raise ConfigError("RAG_CHUNK_OVERLAP must be smaller than RAG_CHUNK_TOKENS")
        if self.auth is not None:
            self.auth_pair  # noqa: B018 - fails now, at start-up, rather than on the first request

    def with_(self, **changes) -> "Config":
        return replace(self, **changes)

    @property
    def auth_pair(self) -> tuple[str, str] | None:
        """RAG_AUTH as (user, password), or None when the login is off."""
        if not self.auth:
            return None
        user, sep, password = self.auth.partition(":")
        if not (sep and user.strip() and password):
            raise ConfigError("RAG_AUTH must look like user:password")
        return user.strip(), password

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def uses_local_embeddings(self) -> bool:
        return self.embed_model.startswith("local:")

    @property
    def app_url(self) -> str:
        """Where citation links point when an article has no URL of its own."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    @property
    def store_label(self) -> str:
        if self.chroma_host:
            return f"Chroma server at {self.chroma_host}:{self.chroma_port}"
        return f"embedded Chroma in {self.index_dir}"


# Numeric settings and the values they may take; anything outside is a one-line ConfigError.
_RANGES = (
    ("chunk_tokens", 32, 8192),
    ("chunk_overlap", 0, 4096),
    ("max_file_bytes", 1, 1 << 34),
    ("load_timeout", 0.1, 86400.0),
    ("load_memory_mb", 1, 1 << 20),
    ("embed_threads", 0, 1024),
    ("top_k", 1, 50),
    ("context_chunks", 0, 20),
    ("context_tokens", 100, 1_000_000),
    ("max_question_chars", 1, 1_000_000),
    ("llm_timeout", 0.1, 3600.0),
    ("llm_max_tokens", 1, 1_000_000),
    ("port", 1, 65535),
    ("max_upload_bytes", 1, 1 << 34),
    ("chroma_port", 1, 65535),
)
_ENV_NAMES = {
    "chunk_tokens": "RAG_CHUNK_TOKENS", "chunk_overlap": "RAG_CHUNK_OVERLAP",
    "load_timeout": "RAG_LOAD_TIMEOUT", "load_memory_mb": "RAG_LOAD_MEMORY_MB",
    "embed_threads": "RAG_EMBED_THREADS", "top_k": "RAG_TOP_K", "context_chunks": "RAG_CONTEXT_CHUNKS",
    "context_tokens": "RAG_CONTEXT_TOKENS", "max_question_chars": "RAG_MAX_QUESTION_CHARS",
    "llm_timeout": "RAG_LLM_TIMEOUT", "llm_max_tokens": "RAG_LLM_MAX_TOKENS", "port": "RAG_PORT",
    "max_upload_bytes": "RAG_MAX_UPLOAD_BYTES", "chroma_port": "CHROMA_PORT",
}


def openai_client(config: Config, base_url: str | None, max_retries: int):
    """An `openai.OpenAI` client for this configuration. Local servers (llama.cpp, Ollama, vLLM)
    need no key, but the package insists on one."""
    from openai import OpenAI

    return OpenAI(
        api_key=config.openai_api_key or "sk-no-key",
        base_url=base_url,
        timeout=config.llm_timeout,
        max_retries=max_retries,
    )
