"""Hybrid retrieval: dense (Chroma) + keyword (BM25), fused by reciprocal rank, then diversified.

Nothing of the corpus is loaded at start: each search asks Chroma's HNSW index for the nearest
chunks and the generation's SQLite file (rag/backends/sparse.py) for the best BM25 matches, then
reads the texts, spans and document metadata of those few candidates from the file, and the stored
vectors of the passages it returns from Chroma. Opening an index costs the same at any size.
Fusion is written here rather than with `QueryFusionRetriever` because we also need the dense
similarity of keyword-only hits (for declining), filters on committed versions, near-duplicate
collapsing and a cap on passages per document, which that class does not offer.

Matching is done on small chunks (precise: a 200-token chunk is one topic, and all of it fits in
MiniLM's window) but each hit is read and cited with its neighbouring chunks, like llama-index's
sentence-window retrieval: the answer often sits a paragraph away from the words the question
shares with the article. On news-QA data (RealTime QA) one neighbour each side raised the share of
questions whose answer is in the top 5 passages from 52.5% to 58.3% (development slice) and from
60.4% to 62.5% (held-out slice); see benchmarks/README.md.

Time: every search runs "as of" a date (default today), as a reader of the news asks. Articles
published after it are out, each passage's fused score is multiplied by a mild prior that decays
with its article's age before that date, and phrases such as "this week" or "yesterday" in the
question are read against it (passages from that window count a little more); rag/retrieval/dates.py.
Articles without a (parseable) date are kept and get a neutral factor: the bundled corpus has none.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from rag.backends.embeddings import Embedder
from rag.backends.sparse import DocumentInfo, SparseIndex, StoredChunk
from rag.backends.store import StoredIndex
from rag.config import Config
from rag.errors import IndexProblem, QuestionError
from rag.retrieval.dates import as_of_date, parse_published, recency_factor, time_window
from rag.retrieval.ordering import POOL, Candidate, features, shipped_model
from rag.text import jaccard, shingles
from rag.types import Chunk, Document, Passage

__all__ = [
    "Filters", "SearchIndex", "StoredDocuments", "as_of_date", "parse_published", "recency_factor", "time_window",
]

_ISO_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")

# Passages from the window a question names ("this week", "yesterday") count this much more.
WINDOW_BOOST = 1.1

RRF_K = 60
BM25_POOL = 100
# Each further passage from an article already chosen counts for a little less, so several
# articles are represented when they are relevant (0.9: measured +1.2 points top-5 recall over 0.75
# on development news-QA data, with the same gold-set scores).
SAME_DOC_DECAY = 0.9
# Documents a search index keeps read (a passage and the answer citing it read the same article).
DOCUMENT_CACHE = 256


@dataclass
class Filters:
    """Optional restrictions: outlet name (case-insensitive), a published-date range (ISO strings)
    and `as_of`, the day the question is asked: later articles are out, and ranking prefers recent ones."""

    publisher: str | None = None
    since: str | None = None
    until: str | None = None
    as_of: dt.date | None = None

    @classmethod
    def checked(cls, as_of: object = None, **filters) -> "Filters":
        """Filters from keyword arguments, refusing unknown names and dates that are not ISO;
        `as_of` None means today."""
        unknown = sorted(set(filters) - {"publisher", "since", "until"})
        if unknown:
            raise QuestionError(f"Unknown filter {unknown[0]!r}; use publisher, since or until.")
        for name in ("since", "until"):
            value = filters.get(name)
            if value is not None and not (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
                raise QuestionError(f"{name} must be a date like 2025-05-31 (or 2025-05, 2025), got {value!r}.")
        publisher = filters.get("publisher")
        if publisher is not None and not isinstance(publisher, str):
            raise QuestionError("publisher must be text.")
        return cls(**filters, as_of=as_of_date(as_of))

    def accepts(self, doc: Document | DocumentInfo, published: dt.date | None = None) -> bool:
        """Whether `doc` passes; `published` is its parsed date (parsed here when not given)."""
        if self.publisher and (doc.publisher or "").lower() != self.publisher.lower():
            return False
        if published is None:
            published = parse_published(doc.published)
        return self.accepts_day(published, doc.published)

    def accepts_day(self, published: dt.date | None, written: str | None) -> bool:
        """Whether an article published on `published` (None when unknown; `written` is its
        `published` metadata as written) passes the date limits."""
        if self.as_of and published and published > self.as_of:
            return False
        day = published.isoformat() if published else (written or "").replace("/", "-")
        if self.since and (not day or day < self.since):
            return False
        if self.until and (not day or day[: len(self.until)] > self.until):
            return False
        return True


@dataclass
class _Pool:
    """One search's fused candidates (passing the filters, best first) and what fusion saw of them."""

    candidates: list[str]
    fused: dict[str, float]
    found: dict[str, tuple[StoredChunk, DocumentInfo]]
    dense_ranks: dict[str, int]
    bm25_ranks: dict[str, int]
    bm25: dict[str, float]
    windowed: set[str]


def _day(iso: str | None) -> dt.date | None:
    return dt.date.fromisoformat(iso) if iso else None


class StoredDocuments(Mapping[str, Document]):
    """The committed documents by id, read from the index when asked for; the last few hundred
    read are kept, so the answer that cites a passage reads the article version the passage came from."""

    def __init__(self, sparse: SparseIndex, size: int = DOCUMENT_CACHE):
        self._sparse = sparse
        self._size = size
        self._kept: OrderedDict[str, Document] = OrderedDict()
        self._lock = threading.Lock()

    def version(self, doc_id: str, version: str | None) -> Document | None:
        """The document (its `content_hash` is the stored version); with `version`, only that
        version, else the one kept or the committed one."""
        with self._lock:
            kept = self._kept.get(doc_id)
            if kept is not None and version in (None, kept.content_hash):
                self._kept.move_to_end(doc_id)
                return kept
        found = self._sparse.document(doc_id, version)
        if found is not None:
            with self._lock:
                self._kept[doc_id] = found
                self._kept.move_to_end(doc_id)
                while len(self._kept) > self._size:
                    self._kept.popitem(last=False)
        return found

    def __getitem__(self, doc_id: str) -> Document:
        found = self.version(doc_id, None) if isinstance(doc_id, str) else None
        if found is None:
            raise KeyError(doc_id)
        return found

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and (doc_id in self._kept or self._sparse.document(doc_id) is not None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._sparse.document_ids())

    def __len__(self) -> int:
        return self._sparse.document_count()


class SearchIndex:
    """Search over one generation of the stored index. Holds no corpus data: candidates, their
    texts, windows and documents are read from the index for each search (`documents` keeps the
    last few hundred articles read); `stats` are the stored corpus statistics."""

    def __init__(self, config: Config, index: StoredIndex, embedder: Embedder):
        self.config = config
        self.embedder = embedder
        self.index = index
        self.sparse = index.sparse
        self.neighbours = max(0, config.retrieval.context_chunks)
        self.documents = StoredDocuments(self.sparse)
        self.stats = self.sparse.stats()
        # The trained passage ranker, or None: candidates stay in fused order.
        self.passage_model = shipped_model() if config.retrieval.passage_ranker else None
        # Date shares change only when the index does (and a change opens a new SearchIndex).
        self._date_shares: dict[tuple, float] = {}

    def document_infos(self) -> list[DocumentInfo]:
        """Every committed document's metadata (no texts), by id."""
        return self.sparse.document_infos()

    def window(self, chunk_id: str) -> Passage | None:
        """The passage a stored chunk is read and cited as (the chunk with its neighbours)."""
        with self.sparse.reading():
            found = self.sparse.chunks([chunk_id]).get(chunk_id)
            return None if found is None else self._passage(found[0], self._window(found[0], {}))

    def chunk(self, chunk_id: str) -> Chunk | None:
        """A stored chunk (its own span and text, without the window it is read with)."""
        found = self.sparse.chunks([chunk_id]).get(chunk_id)
        if found is None:
            return None
        stored = found[0]
        return Chunk(stored.chunk_id, stored.doc_id, stored.text, stored.start, stored.end)

    def _window(self, chunk: StoredChunk, spans: dict[tuple[str, str], list[tuple[int, int]]]) -> tuple[int, int]:
        """The character span of `chunk` widened by `context_chunks` chunks each side (`spans`
        keeps each document's chunk spans for the rest of one search)."""
        key = (chunk.doc_id, chunk.version)
        if key not in spans:
            spans[key] = self.sparse.spans(*key)
        members = spans[key]
        k = members.index((chunk.start, chunk.end))
        first, last = members[max(0, k - self.neighbours)], members[min(len(members) - 1, k + self.neighbours)]
        return first[0], last[1]

    def _passage(self, chunk: StoredChunk, window: tuple[int, int], score: float = 0.0, dense: float = 0.0) -> Passage | None:
        """`chunk` as it is read and cited: the text of `window` in its document version."""
        doc = self.documents.version(chunk.doc_id, chunk.version)
        if doc is None:
            return None  # superseded since the search began (only possible outside `reading`)
        start, end = window
        return Passage(
            chunk_id=chunk.chunk_id,
            doc_id=doc.doc_id,
            text=doc.text[start:end],
            start=start,
            end=end,
            title=doc.title,
            publisher=doc.publisher,
            author=doc.author,
            published=doc.published,
            url=doc.url,
            score=score,
            dense=dense,
        )

    def _dense(self, vector: np.ndarray, n: int, filters: Filters, total: int) -> list[str]:
        where = None
        if filters.publisher:
            # Chroma matches exactly; people type outlet names in any case.
            spelled = self.sparse.publisher_spellings(filters.publisher)
            if not spelled:
                return []
            where = {"publisher": {"$in": spelled}}
        return self.index.nearest(vector, max(1, min(n, total)), where=where)

    def search(self, query: str, top_k: int, filters: Filters | None = None, query_vector: np.ndarray | None = None) -> list[Passage]:
        """The `top_k` best passages for `query`, fused, ordered again by the passage ranker (when
        one is shipped and switched on), de-duplicated and spread over documents."""
        filters = filters or Filters()
        vector = query_vector if query_vector is not None else self.embedder.embed([query])[0]
        with self.sparse.reading():
            pool = self._pool(query, vector, top_k, filters)
            order, similarity = dict(pool.fused), {}
            if self.passage_model is not None and pool.candidates:
                head = pool.candidates[:POOL]
                similarity = self._similarity(head, vector)
                rows = features(query, self._described(pool, head, similarity), self.stats, filters.as_of)
                # The ranker's probability orders the head; the rest follow in fused order.
                order = {cid: 1e-9 * pool.fused[cid] for cid in pool.candidates}
                order.update(zip(head, map(float, self.passage_model.probability(rows))))
                pool.candidates.sort(key=order.get, reverse=True)
            spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
            copies: dict[str, list[str]] = {}
            chosen = self._diversify(pool.candidates, order, pool.found, spans, top_k, copies)
            missing = [cid for cid, _ in chosen if cid not in similarity]
            similarity.update(self._similarity(missing, vector))
            passages = []
            for cid, span in chosen:
                passage = self._passage(pool.found[cid][0], span, pool.fused[cid], similarity.get(cid, 0.0))
                if passage is not None:
                    passage.also_in = copies.get(cid, [])
                    passages.append(passage)
            return passages

    def candidate_rows(self, query: str, filters: Filters, query_vector: np.ndarray | None = None) -> tuple[list[Passage], np.ndarray]:
        """The first `POOL` fused candidates as passages (each chunk with its window, in fused
        order) and the passage ranker's feature rows for them: what it is trained on."""
        vector = query_vector if query_vector is not None else self.embedder.embed([query])[0]
        with self.sparse.reading():
            pool = self._pool(query, vector, POOL, filters)
            head = pool.candidates[:POOL]
            similarity = self._similarity(head, vector)
            rows = features(query, self._described(pool, head, similarity), self.stats, filters.as_of)
            spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
            passages = [self._passage(pool.found[cid][0], self._window(pool.found[cid][0], spans), pool.fused[cid],
                                      similarity.get(cid, 0.0)) for cid in head]
            return passages, rows

    def _pool(self, query: str, vector: np.ndarray, top_k: int, filters: Filters) -> _Pool:
        """The fused candidates that pass `filters`, best first."""
        total = self.sparse.chunk_total()
        if not total:
            raise IndexProblem("The index is empty: add documents to the corpus folder and run `python -m rag index`.")
        pool = max(top_k * 8, 40)
        # The dense pool is widened by the share of chunks the date filters leave, so a corpus
        # that is mostly newer than `as_of` still yields enough candidates.
        dense_ids = self._dense(vector, int(pool / max(self._date_share(filters, total), 0.05)), filters, total)
        keyword = self.sparse.keyword_scored(query, min(pool, BM25_POOL))
        keyword_ids = [cid for cid, _ in keyword]
        # Only committed chunks: Chroma also holds those of versions being written or replaced.
        found = self.sparse.chunks(dense_ids + keyword_ids)
        fused: dict[str, float] = {}
        ranks: list[dict[str, int]] = []
        for ranked in (dense_ids, keyword_ids):
            ranks.append({})
            for rank, chunk_id in enumerate(cid for cid in ranked if cid in found):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
                ranks[-1][chunk_id] = rank
        window = time_window(query, filters.as_of)
        candidates, windowed = [], set()
        for chunk_id in fused:
            info = found[chunk_id][1]
            published = _day(info.day)
            if not filters.accepts(info, published):
                continue
            fused[chunk_id] *= recency_factor(published, filters.as_of)
            if window and published and window[0] <= published <= window[1]:
                fused[chunk_id] *= WINDOW_BOOST
                windowed.add(chunk_id)
            candidates.append(chunk_id)
        candidates.sort(key=fused.get, reverse=True)
        return _Pool(candidates, fused, found, ranks[0], ranks[1], dict(keyword), windowed)

    def _similarity(self, ids: list[str], vector: np.ndarray) -> dict[str, float]:
        """Cosine similarity of each chunk's stored vector to the query's."""
        stored = self.index.vectors(ids)
        return {cid: float(np.asarray(v, dtype=np.float32) @ vector) for cid, v in stored.items()}

    @staticmethod
    def _described(pool: _Pool, head: list[str], similarity: dict[str, float]) -> list[Candidate]:
        return [
            Candidate(
                text=pool.found[cid][0].text, title=pool.found[cid][1].title or "", doc_id=pool.found[cid][0].doc_id,
                fused=pool.fused[cid], dense=similarity.get(cid, 0.0), dense_rank=pool.dense_ranks.get(cid),
                bm25=pool.bm25.get(cid, 0.0), bm25_rank=pool.bm25_ranks.get(cid), published=_day(pool.found[cid][1].day),
                in_window=cid in pool.windowed, start=pool.found[cid][0].start,
            )
            for cid in head
        ]

    def _date_share(self, filters: Filters, total: int) -> float:
        """The share of chunks whose article the date filters (as_of, since, until) accept."""
        if not (filters.as_of or filters.since or filters.until):
            return 1.0
        key = (filters.as_of, filters.since, filters.until, total)
        if key not in self._date_shares:
            dates_only = Filters(since=filters.since, until=filters.until, as_of=filters.as_of)
            kept = sum(count for day, written, count in self.sparse.chunks_by_day() if dates_only.accepts_day(_day(day), written))
            if len(self._date_shares) > 1024:
                self._date_shares.clear()
            self._date_shares[key] = kept / max(1, total)
        return self._date_shares[key]

    def _diversify(
        self, candidates: list[str], fused: dict[str, float], found: dict[str, tuple[StoredChunk, DocumentInfo]],
        spans: dict[tuple[str, str], list[tuple[int, int]]], top_k: int, copies: dict[str, list[str]],
    ) -> list[tuple[str, tuple[int, int]]]:
        """Greedy pick: skip near-duplicates and chunks already inside a chosen passage's window;
        each further passage of a document counts for less. Returns (chunk id, window) pairs; a
        near-duplicate from another outlet (a syndicated wire story) is shown once, and its outlet
        added to `copies[chosen chunk id]`. Of near-duplicates, the one stored first is shown,
        whatever their scores: a later near-copy (another headline, another URL) cannot hide it."""
        chosen: list[tuple[str, tuple[int, int]]] = []
        chosen_shingles: list[set] = []
        per_doc: Counter[str] = Counter()
        remaining = list(candidates)
        while remaining and len(chosen) < top_k:
            best, best_score = None, -1.0
            for chunk_id in remaining[: top_k * 4]:
                score = fused[chunk_id] * (SAME_DOC_DECAY ** per_doc[found[chunk_id][0].doc_id])
                if score > best_score:
                    best, best_score = chunk_id, score
            remaining.remove(best)
            chunk = found[best][0]
            if any(
                found[other][0].doc_id == chunk.doc_id and span[0] <= chunk.start and chunk.end <= span[1]
                for other, span in chosen
            ):
                continue  # already read inside a chosen passage's window
            sh = shingles(chunk.text)
            twin = next((i for i, other in enumerate(chosen_shingles) if jaccard(sh, other) > 0.6), None)
            if twin is not None:
                shown = chosen[twin][0]
                if chunk.row < found[shown][0].row:  # this one was here first: it takes the place
                    chosen[twin], chosen_shingles[twin] = (best, self._window(chunk, spans)), sh
                    per_doc[found[shown][0].doc_id] -= 1
                    per_doc[chunk.doc_id] += 1
                    copies[best] = copies.pop(shown, [])
                    shown, best = best, shown
                kept, outlet = found[shown][1], found[best][1].publisher
                named = copies.setdefault(shown, [])
                if outlet and outlet != kept.publisher and outlet not in named:
                    named.append(outlet)
                continue
            chosen.append((best, self._window(chunk, spans)))
            chosen_shingles.append(sh)
            per_doc[chunk.doc_id] += 1
        return chosen
