"""All configuration in one place: environment variables (or a `.env` file) with defaults.

Settings come in sections (`config.paths`, `config.ingest`, `config.retrieval`, ...). Each field
declares its environment variable, what it means and the values it may take, so the README table,
`.env.example` and the parsing all follow from this file; a bad value is a one-line `ConfigError`.
Nothing else in the package reads `os.environ` for settings.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rag.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"  # shipped inside the package


def _data_root() -> Path:
    """Where `corpus/` and `index/` are by default: the checkout's own folders when the package
    runs from one (`make run`, `pip install -e .`), else the current folder (an installed package)."""
    if (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "rag" / "__init__.py").is_file():
        return PROJECT_ROOT
    return Path.cwd()


DATA_ROOT = _data_root()

LOCAL_EMBED_MODEL = "local:all-MiniLM-L6-v2"


def setting(default: Any, env: str | None, help: str, low: float | None = None, high: float | None = None, **kw):
    """A dataclass field with its environment variable, description and allowed range."""
    metadata = {"env": env, "help": help, "range": (low, high) if low is not None else None}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata, **kw)
    return field(default=default, metadata=metadata, **kw)


@dataclass(frozen=True)
class Paths:
    """Where the corpus and the index live."""

    corpus_dir: Path = setting(DATA_ROOT / "corpus", "RAG_CORPUS_DIR",
                               "documents folder (an installed package: `corpus/` in the current folder)")
    index_dir: Path = setting(DATA_ROOT / "index", "RAG_INDEX_DIR",
                              "embedded Chroma store, locks and markers (installed: `index/` in the current folder)")
    collection: str = setting("news", "RAG_COLLECTION", "collection name prefix")


@dataclass(frozen=True)
class Ingest:
    """Reading, chunking and the limits on one corpus file."""

    # Chunks are sized for MiniLM, which reads at most 256 word pieces and silently truncates the
    # rest: 200 tiktoken tokens stay under that limit for English news text.
    chunk_tokens: int = setting(200, "RAG_CHUNK_TOKENS", "chunk size in tokens (MiniLM truncates past 256 word pieces)", 32, 8192)
    chunk_overlap: int = setting(30, "RAG_CHUNK_OVERLAP", "tokens shared by neighbouring chunks", 0, 4096)
    max_file_bytes: int = setting(20 * 1024 * 1024, None, "larger corpus files are skipped", 1, 1 << 34)
    # Each corpus file is loaded (an upload also chunked) in a worker process (rag/ingest/isolation.py),
    # because a crafted file can make a parser loop or eat memory rather than fail.
    load_timeout: float = setting(
        60.0, "RAG_LOAD_TIMEOUT", "seconds a document (a file: per started MB) may take to load", 0.1, 86400.0
    )
    load_memory_mb: int = setting(2048, "RAG_LOAD_MEMORY_MB", "memory the loader may use for one file", 1, 1 << 20)


@dataclass(frozen=True)
class Embeddings:
    """The embedding backend: `local:` (bundled MiniLM), `fake:` (hashing, for tests) or an OpenAI model."""

    embed_model: str = setting(LOCAL_EMBED_MODEL, "RAG_EMBED_MODEL", "`local:` MiniLM, `fake:hashing` (tests), or an OpenAI model such as text-embedding-3-small")
    embed_threads: int = setting(0, "RAG_EMBED_THREADS", "ONNX Runtime threads (0: all cores)", 0, 1024)
    embed_base_url: str | None = setting(None, "RAG_EMBED_BASE_URL", "OpenAI-compatible embeddings server (default: OPENAI_BASE_URL)")


@dataclass(frozen=True)
class Retrieval:
    """How many passages are searched, cited and read."""

    top_k: int = setting(5, "RAG_TOP_K", "sources an answer may cite (and an LLM reads)", 1, 50)
    # Sentences are picked from a wider pool than the sources finally cited: the passage that holds
    # the answer often ranks just below the top few.
    candidates: int = setting(15, "RAG_CANDIDATES", "passages whose sentences compete for the answer", 1, 200)
    # Matching on small chunks keeps retrieval precise; reading the window around a match finds the
    # answer that sits a paragraph away from the words the question shares with the article.
    context_chunks: int = setting(1, "RAG_CONTEXT_CHUNKS", "neighbouring chunks read with a match, each side (0: the chunk alone)", 0, 20)
    # The first 30 fused candidates ordered again by a model trained on news questions
    # (rag/retrieval/ordering.py): in date-blocked cross-validation on the training questions it put
    # the answer in the top 5 more often than fusion, in every block of dates (benchmarks/README.md).
    passage_ranker: bool = setting(True, "RAG_PASSAGE_RANKER", "order the fused candidates with the trained passage ranker (0: fused order)")


@dataclass(frozen=True)
class Answering:
    """The answer itself."""

    max_quotes: int = setting(5, "RAG_MAX_QUOTES", "quoted sentences in an extractive answer", 1, 20)
    max_question_chars: int = setting(2000, "RAG_MAX_QUESTION_CHARS", "longer questions are refused (also each question in a conversation's history)", 1, 1_000_000)
    # Follow-ups read only the last turns (retrieval the last one, an LLM the last three), but every
    # turn a client sends is checked and carried: the limits keep one request's cost bounded.
    max_history_turns: int = setting(20, "RAG_MAX_HISTORY_TURNS", "earlier turns a question may bring (the app keeps the latest; the API refuses more)", 0, 1000)
    max_history_answer_chars: int = setting(20_000, "RAG_MAX_HISTORY_ANSWER_CHARS", "longest earlier answer a conversation's history may hold", 1, 1_000_000)
    ranker: bool = setting(True, "RAG_RANKER", "order the answer's sentences with the trained ranker (0: the hand-made score)")
    short_answer: bool = setting(True, "RAG_SHORT_ANSWER", "lead with the short answer (a name, number or date) when one is convincing")
    # The trained threshold is chosen on the training questions for four in five shown answers
    # right (benchmarks/README.md); a deployment can ask for fewer, surer bold answers, or more.
    short_answer_min_confidence: float = setting(0.0, "RAG_SHORT_ANSWER_MIN_CONFIDENCE", "confidence a bold short answer needs (0: the trained threshold, 77% right at 10% shown on held-out news)", 0.0, 1.0)
    ner: str = setting("spacy", "RAG_NER", "named entities for short answers: spacy (en_core_web_sm) or none (capitalisation and number rules only)")
    ner_at_index: bool = setting(True, "RAG_NER_AT_INDEX", "find every sentence's named entities when indexing (about a quarter more indexing time; questions then skip the entity model)")


@dataclass(frozen=True)
class LLMSettings:
    """The generating model behind an OpenAI-compatible API."""

    llm_backend: str = setting("auto", "RAG_LLM_BACKEND", "auto (openai when a key or URL is set), openai, fake or none")
    openai_api_key: str | None = setting(None, "OPENAI_API_KEY", "OpenAI key; enables LLM answers", repr=False)
    openai_base_url: str | None = setting(None, "OPENAI_BASE_URL", "any OpenAI-compatible server; enables LLM answers")
    llm_model: str = setting("gpt-4o-mini", "RAG_LLM_MODEL", "model name sent to the server")
    llm_timeout: float = setting(30.0, "RAG_LLM_TIMEOUT", "seconds for a whole LLM answer", 0.1, 3600.0)
    llm_max_tokens: int = setting(512, "RAG_LLM_MAX_TOKENS", "answer length limit", 1, 1_000_000)
    context_tokens: int = setting(3000, "RAG_CONTEXT_TOKENS", "token budget of the sources an LLM reads (lower it for 2k-context models)", 100, 1_000_000)

    @property
    def enabled(self) -> bool:
        if self.llm_backend == "auto":
            return bool(self.openai_api_key or self.openai_base_url)
        return self.llm_backend != "none"


@dataclass(frozen=True)
class Web:
    """The web app."""

    host: str = setting("127.0.0.1", "RAG_HOST", "where the app listens")
    port: int = setting(7860, "RAG_PORT", "the app's port", 1, 65535)
    auth: str | None = setting(None, "RAG_AUTH", "user:password turns on the login", repr=False)
    public_url: str | None = setting(None, "RAG_PUBLIC_URL", "the app's address as users reach it, for citation links")
    max_upload_bytes: int = setting(5 * 1024 * 1024, "RAG_MAX_UPLOAD_BYTES", "upload size limit", 1, 1 << 34)
    allowed_origins: str | None = setting(None, "RAG_ALLOWED_ORIGINS", "other sites (scheme://host[:port], comma-separated) whose pages may call the app with a user's login; unset: none")
    trusted_proxies: str | None = setting(None, "RAG_TRUSTED_PROXIES", "addresses or networks (comma-separated) of the reverse proxies whose X-Forwarded-* headers are believed; unset: none")
    # One client's burst of questions or uploads must not fill the queue that everyone shares.
    rate_limit: int = setting(60, "RAG_RATE_LIMIT", "questions and uploads one logged-in user (else one client address) may start a minute (0: no limit)", 0, 1_000_000)
    # Uploads wait in Gradio's upload folder until they are indexed; a user may not fill the disk.
    upload_quota_bytes: int = setting(100 * 1024 * 1024, "RAG_UPLOAD_QUOTA_BYTES", "bytes of uploads one user may have stored and not yet indexed", 1, 1 << 40)
    upload_max_age: int = setting(60, "RAG_UPLOAD_MAX_AGE", "minutes an upload that was never indexed is kept before it is deleted", 1, 10_080)

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
    def origins(self) -> tuple[str, ...]:
        """RAG_ALLOWED_ORIGINS as normalised origins ("https://news.example.org")."""
        return tuple(_origin("RAG_ALLOWED_ORIGINS", item) for item in _items(self.allowed_origins))

    @property
    def proxies(self) -> tuple[str, ...]:
        """RAG_TRUSTED_PROXIES as networks ("10.0.0.0/8", "127.0.0.1/32")."""
        networks = []
        for item in _items(self.trusted_proxies):
            try:
                networks.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ConfigError(f"RAG_TRUSTED_PROXIES: {item!r} is not an IP address or network") from None
        return tuple(networks)

    @property
    def public_origin(self) -> str | None:
        """The origin of RAG_PUBLIC_URL, which the app's own pages are served from."""
        return _origin("RAG_PUBLIC_URL", self.public_url) if self.public_url else None

    @property
    def https(self) -> bool:
        """Whether users reach the app over HTTPS (through a TLS proxy): its cookies are then Secure."""
        return bool(self.public_url and self.public_url.lower().startswith("https://"))

    @property
    def app_url(self) -> str:
        """Where citation links point when an article has no URL of its own."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"


@dataclass(frozen=True)
class Chroma:
    """A Chroma server instead of the embedded store."""

    chroma_host: str | None = setting(None, "CHROMA_HOST", "use the Chroma server at this host")
    chroma_port: int = setting(8000, "CHROMA_PORT", "its port", 1, 65535)
    chroma_ssl: bool = setting(False, "CHROMA_SSL", "connect with TLS")
    chroma_headers: dict = setting({}, "CHROMA_HEADERS", "extra headers, as Key=Value,Key2=Value2", repr=False)


@dataclass(frozen=True)
class Team:
    """Accounts, saved conversations, shared answers and feedback (rag/team)."""

    database_url: str | None = setting(
        None, "RAG_DATABASE_URL",
        "SQLAlchemy URL of the team database, e.g. postgresql+psycopg://user:pw@host/db (default: SQLite in the index folder)",
        repr=False,
    )
    session_days: float = setting(14.0, "RAG_SESSION_DAYS", "days a login lasts before the user logs in again", 0.01, 3650.0)
    follow_match: float = setting(
        0.5, "RAG_FOLLOW_MATCH",
        "share of a followed question's terms (weighed by rarity) a new article must hold for the question to be re-asked", 0.0, 1.0,
    )
    follow_pause_ms: float = setting(
        20.0, "RAG_FOLLOW_PAUSE_MS", "pause between two background re-answers of followed questions, for users' requests", 0.0, 10000.0,
    )

    def url(self, index_dir: Path) -> str:
        """The database in use: RAG_DATABASE_URL, else `team.sqlite3` in the index folder."""
        return self.database_url or f"sqlite:///{index_dir / 'team.sqlite3'}"


@dataclass(frozen=True)
class Fetch:
    """Articles fetched by link, feed or sitemap (rag/ingest/fetching.py, rag/ingest/feeds.py)."""

    feed_interval: int = setting(30, "RAG_FEED_INTERVAL", "minutes between the app's polls of its feeds (0: off)", 0, 10080)
    feed_max_items: int = setting(500, "RAG_FEED_MAX_ITEMS", "newest items of one feed or sitemap fetched per poll", 1, 50000)
    # A hostile or broken feed (slow-drip pages, heavy items) costs its own poll a bounded time; what
    # is left waits for the next poll, and items that keep failing are tried less and less often.
    feed_budget: float = setting(300.0, "RAG_FEED_BUDGET", "seconds one feed may take in a poll (listing, sitemaps, items); the rest waits for the next poll", 1.0, 86400.0)
    poll_budget: float = setting(1800.0, "RAG_POLL_BUDGET", "seconds one poll of all feeds may take; feeds not reached wait for the next poll", 1.0, 86400.0)
    user_agent: str = setting("newsrag/1.0 (+news question answering; polite fetcher)", "RAG_FETCH_USER_AGENT", "User-Agent sent with every request; its first word is the name robots.txt rules are read for")
    timeout: float = setting(10.0, "RAG_FETCH_TIMEOUT", "seconds for a DNS answer, to connect, and the longest wait for the next bytes", 0.1, 600.0)
    deadline: float = setting(30.0, "RAG_FETCH_DEADLINE", "seconds one response may take in all (a slow drip is cut off)", 0.1, 3600.0)
    max_bytes: int = setting(5 * 1024 * 1024, "RAG_FETCH_MAX_BYTES", "largest response, after decompression", 1024, 1 << 30)
    max_redirects: int = setting(5, "RAG_FETCH_MAX_REDIRECTS", "redirects followed per request", 0, 30)
    host_delay: float = setting(1.0, "RAG_FETCH_HOST_DELAY", "seconds between two requests to one host (a longer robots.txt Crawl-delay wins, up to 60)", 0.0, 3600.0)
    host_concurrency: int = setting(2, "RAG_FETCH_HOST_CONCURRENCY", "requests to one host at a time", 1, 64)
    workers: int = setting(8, "RAG_FETCH_WORKERS", "requests at a time in all", 1, 256)
    # Off by default: a feed URL typed by a user must not make the server read its own network
    # (cloud metadata at 169.254.169.254, admin pages on 127.0.0.1, the office LAN).
    allow_private: bool = setting(False, "RAG_FETCH_ALLOW_PRIVATE", "allow loopback, private and link-local addresses (intranet feeds, tests)")


@dataclass(frozen=True)
class Operations:
    """What whoever runs the service watches: Prometheus metrics and the log format."""

    # Off by default: counts of questions, logins and feeds say something about a team's work.
    metrics: bool = setting(False, "RAG_METRICS", "serve Prometheus metrics at /metrics")
    metrics_token: str | None = setting(
        None, "RAG_METRICS_TOKEN",
        "bearer token a scraper sends to /metrics; without one, /metrics answers loopback clients only", repr=False,
    )
    log_format: str = setting("text", "RAG_LOG_FORMAT", "text, or json: one JSON object a line (for log collectors)")


SECTIONS = {
    "paths": Paths, "ingest": Ingest, "embeddings": Embeddings, "retrieval": Retrieval,
    "answering": Answering, "llm": LLMSettings, "web": Web, "chroma": Chroma, "team": Team, "fetch": Fetch,
    "operations": Operations,
}
LOG_FORMATS = ("text", "json")
LLM_BACKENDS = ("auto", "openai", "fake", "none")
NER_BACKENDS = ("spacy", "none")


@dataclass(frozen=True)
class Config:
    """Settings for one service. Build it with `Config.from_env()`; override with `.with_()`."""

    paths: Paths = field(default_factory=Paths)
    ingest: Ingest = field(default_factory=Ingest)
    embeddings: Embeddings = field(default_factory=Embeddings)
    retrieval: Retrieval = field(default_factory=Retrieval)
    answering: Answering = field(default_factory=Answering)
    llm: LLMSettings = field(default_factory=LLMSettings)
    web: Web = field(default_factory=Web)
    chroma: Chroma = field(default_factory=Chroma)
    team: Team = field(default_factory=Team)
    fetch: Fetch = field(default_factory=Fetch)
    operations: Operations = field(default_factory=Operations)

    def __post_init__(self):
        """Refuse values that would only fail later, deep inside a run, with a traceback."""
        for name in SECTIONS:
            section = getattr(self, name)
            for f in fields(section):
                bounds = f.metadata.get("range")
                value = getattr(section, f.name)
                if bounds and not bounds[0] <= value <= bounds[1]:
                    label = f.metadata.get("env") or f.name
                    raise ConfigError(f"{label} must be between {bounds[0]} and {bounds[1]}, got {value}")
        if self.ingest.chunk_overlap >= self.ingest.chunk_tokens:
            raise ConfigError("RAG_CHUNK_OVERLAP must be smaller than RAG_CHUNK_TOKENS")
        if self.llm.llm_backend not in LLM_BACKENDS:
            raise ConfigError(f"RAG_LLM_BACKEND must be one of {', '.join(LLM_BACKENDS)}, got {self.llm.llm_backend!r}")
        if self.answering.ner not in NER_BACKENDS:
            raise ConfigError(f"RAG_NER must be one of {', '.join(NER_BACKENDS)}, got {self.answering.ner!r}")
        if self.operations.log_format not in LOG_FORMATS:
            raise ConfigError(f"RAG_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {self.operations.log_format!r}")
        # Malformed web settings fail now, at start-up, not at the first request.
        self.web.auth_pair  # noqa: B018
        self.web.origins  # noqa: B018
        self.web.proxies  # noqa: B018
        self.web.public_origin  # noqa: B018

    @classmethod
    def from_env(cls) -> Config:
        dotenv = _dotenv()
        values = {}
        for name, section in SECTIONS.items():
            parsed = {}
            for f in fields(section):
                env = f.metadata.get("env")
                raw = os.environ.get(env, dotenv.get(env)) if env else None
                if raw not in (None, ""):
                    parsed[f.name] = _parse(env, raw, _kind(f))
            if name == "embeddings" and "embed_base_url" not in parsed:
                # Embeddings from the same OpenAI-compatible server as the LLM, unless told otherwise.
                base = os.environ.get("OPENAI_BASE_URL", dotenv.get("OPENAI_BASE_URL"))
                if base:
                    parsed["embed_base_url"] = base
            values[name] = section(**parsed)
        return cls(**values)

    def with_(self, **changes) -> Config:
        """A copy with fields changed by name (names are unique across sections):
        `config.with_(corpus_dir=Path("x"), top_k=3)`."""
        sections: dict[str, dict] = {}
        for key, value in changes.items():
            owner = _OWNER.get(key)
            if owner is None:
                raise ConfigError(f"Unknown setting {key!r}")
            sections.setdefault(owner, {})[key] = value
        return replace(self, **{name: replace(getattr(self, name), **kw) for name, kw in sections.items()})

    @property
    def store_label(self) -> str:
        if self.chroma.chroma_host:
            return f"Chroma server at {self.chroma.chroma_host}:{self.chroma.chroma_port}"
        return f"embedded Chroma in {self.paths.index_dir}"


_OWNER = {f.name: name for name, section in SECTIONS.items() for f in fields(section)}


def settings_table() -> str:
    """Every setting as a markdown table (section, variable, default, meaning): the README's
    Configuration table is this output, and a test keeps the two equal."""
    rows = ["| section | variable | default | meaning |", "| --- | --- | --- | --- |"]
    for name, section in SECTIONS.items():
        for f in fields(section):
            env = f.metadata.get("env")
            if not env:
                continue
            default = f.default_factory() if f.default is MISSING else f.default
            if isinstance(default, Path):
                shown = f"`{default.relative_to(DATA_ROOT)}/`"
            elif default in (None, {}, ""):
                shown = "unset"
            else:
                shown = f"`{default}`"
            bounds = f.metadata.get("range")
            meaning = f.metadata["help"] + (f"; {_number(bounds[0])} to {_number(bounds[1])}" if bounds else "")
            rows.append(f"| {name} | `{env}` | {shown} | {meaning} |")
    return "\n".join(rows)


def _items(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _origin(env: str, value: str) -> str:
    """A URL's origin, lowercased (scheme://host[:port]); a wildcard or a non-web URL is refused."""
    parts = urlsplit(value.strip())
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or port == -1 or "*" in value:
        raise ConfigError(f"{env}: {value!r} is not a web address like https://news.example.org")
    default = {"http": 80, "https": 443}[parts.scheme.lower()]
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port and port != default else "")


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def _kind(f) -> type:
    """The type a field's value has: that of its default (an unset optional setting is text)."""
    if f.default is MISSING:
        return type(f.default_factory())
    return str if f.default is None else type(f.default)


def _parse(env: str, raw: str, kind: type) -> Any:
    """An environment string as a value of the field's type."""
    if kind is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{env} must be a whole number, got {raw!r}") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{env} must be a number, got {raw!r}") from None
    if issubclass(kind, Path):
        return Path(raw).expanduser()
    if kind is dict:
        pairs = (pair.split("=", 1) for pair in raw.split(",") if "=" in pair)
        return {key.strip(): value.strip() for key, value in pairs}
    return raw


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


def openai_client(config: Config, base_url: str | None, max_retries: int):
    """An `openai.OpenAI` client for this configuration. Local servers (llama.cpp, Ollama, vLLM)
    need no key, but the package insists on one."""
    from openai import OpenAI

    return OpenAI(
        api_key=config.llm.openai_api_key or "sk-no-key",
        base_url=base_url,
        timeout=config.llm.llm_timeout,
        max_retries=max_retries,
    )
