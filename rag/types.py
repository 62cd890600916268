"""Public data types: what the service hands to the CLI, the UI, tests and other callers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Document:
    """One cleaned article, ready to be chunked.

    `text` is the cleaned text; chunk offsets and citation quotes refer to it.
    """

    doc_id: str
    text: str
    title: str
    source: str  # path relative to the corpus folder (plus "#line" for JSONL records)
    content_hash: str
    publisher: str | None = None
    author: str | None = None
    published: str | None = None
    url: str | None = None


@dataclass
class Skipped:
    """A file (or JSONL line) that was not indexed, and why."""

    source: str
    reason: str


@dataclass
class Chunk:
    """A passage of a document, with its character span in the cleaned text."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int


@dataclass
class Passage:
    """A retrieved chunk, widened by its neighbouring chunks (`RAG_CONTEXT_CHUNKS`), with its
    document's metadata and its fused retrieval score. `start`/`end` are the widened span's
    character offsets in the cleaned document; `chunk_id` is the chunk that matched."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    title: str
    publisher: str | None = None
    author: str | None = None
    published: str | None = None
    url: str | None = None
    score: float = 0.0
    dense: float = 0.0  # cosine similarity to the query, 0 when only BM25 found it
    also_in: list[str] = field(default_factory=list)  # other outlets whose near-identical copy was left out


@dataclass
class Citation:
    """A numbered source behind an answer. `quote` is verbatim from the cleaned document text."""

    number: int
    doc_id: str
    title: str
    quote: str
    url: str
    publisher: str | None = None
    author: str | None = None
    published: str | None = None
    start: int = 0  # character offsets of `quote` in the cleaned document
    end: int = 0
    chunk_id: str = ""
    also_in: list[str] = field(default_factory=list)  # other outlets that ran the same (syndicated) story


@dataclass
class Answer:
    """The result of `rag.ask`.

    `text` is markdown with inline [n] markers; `citations` are in marker order and numbered 1..n.
    `answerable` is False when the corpus does not support an answer (then there are no citations).
    `mode` is "extractive" or the LLM model name. `notice` explains a fallback or a repair
    (e.g. the LLM timed out, or markers pointing at no source were removed). `supported` is False
    when an LLM answer is left with no valid citation.

    `short_answer` is the bold span that opens the first line (a name, number or date, verbatim
    from the sentence cited by [1]), or None when none is shown. `short_answer_confidence` is the
    calibrated probability that the best candidate short answer is right (None when the question
    asks for no name, number or date, or no candidate was found): the answer is shown only when
    it clears a threshold chosen for precision.
    """

    question: str
    text: str
    citations: list[Citation]
    answerable: bool
    mode: str
    notice: str | None = None
    supported: bool = True
    removed_markers: list[str] = field(default_factory=list)
    latency_ms: float = 0.0
    short_answer: str | None = None
    short_answer_confidence: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SourceInfo:
    """A document in the index, as listed by `rag sources` and the UI's corpus view."""

    doc_id: str
    title: str
    source: str
    chunks: int
    publisher: str | None = None
    author: str | None = None
    published: str | None = None
    url: str | None = None


@dataclass
class IndexSummary:
    """What an indexing run did."""

    documents: int = 0
    chunks: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    embedded_chunks: int = 0
    duplicates: list[Skipped] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. an upload saved under a new name
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [
            f"{self.documents} documents, {self.chunks} chunks in the index "
            f"({len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{self.unchanged} unchanged; {self.embedded_chunks} chunks embedded) in {self.seconds:.1f} s"
        ]
        for item in self.duplicates:
            out.append(f"  duplicate: {item.source}: {item.reason}")
        for item in self.skipped:
            out.append(f"  skipped: {item.source}: {item.reason}")
        for note in self.notes:
            out.append(f"  note: {note}")
        return out


@dataclass
class FeedInfo:
    """A followed feed, sitemap or site, as `rag feeds list` and the Corpus tab show it. Times are
    ISO 8601 in UTC; `new_articles` is what its last poll added; `articles` all it brought."""

    url: str
    kind: str  # "rss", "atom", "json", "sitemap", "sitemap-index"
    title: str | None
    added: str
    last_poll: str | None = None
    last_ok: str | None = None
    last_error: str | None = None
    new_articles: int = 0
    articles: int = 0


@dataclass
class FetchReport:
    """What fetching links or polling feeds did: articles added or updated (corpus paths), items
    that needed nothing (`unchanged`), and each item that failed or was set aside, with the
    one-line reason. `index` is the indexing run that followed, when anything changed."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)  # the feeds polled
    index: IndexSummary | None = None
    backed_off: int = 0  # items that failed lately, left for a later poll (rag/ingest/webstate.py)

    def lines(self) -> list[str]:
        out = [f"{len(self.added)} added, {len(self.updated)} updated, {self.unchanged} unchanged, "
               f"{len(self.skipped)} skipped" + (f", {self.backed_off} failed lately and left for later" if self.backed_off else "")
               + (f" from {len(self.feeds)} feeds" if self.feeds else "")]
        out += [f"  added: {path}" for path in self.added]
        out += [f"  updated: {path}" for path in self.updated]
        out += [f"  skipped: {item.source}: {item.reason}" for item in self.skipped]
        if self.index is not None:
            out += self.index.lines()
        return out
