"""The Chroma store: embedded (`PersistentClient` in the index folder) or a server (`HttpClient`).

Two collections per index generation:
- `<name>[_<generation>]_chunks`: one record per chunk (embedding, text, document metadata, character span);
- `<name>[_<generation>]_docs`: one record per committed document version (hash, metadata, cleaned text).

A document's record in `_docs` is its commit marker: queries only see chunks whose document
hash matches the committed one, so an interrupted indexing run never shows half a document.

Beside the collections, each generation has a SQLite file in the local index folder (also when the
collections are on a Chroma server): keyword search, chunk spans and texts, document metadata and
texts, and corpus statistics (rag/backends/sparse.py). `StoredIndex` writes it in the same domain
operations as the collections, so the indexer does not know it exists; searching reads it and asks
Chroma only for nearest neighbours and the vectors of the few passages it returns. Chroma stays the
record: a file that is missing, of another schema, or behind the collections (a process killed
between the two writes, an index made before the file existed, another machine's index run) is
brought in step from the collections, without embedding anything.

A rebuild fills a new generation beside the live one; the record "live" in `<name>_meta` names the
generation readers use, and rewriting that one record is the switch, a single atomic write in the
embedded store and on a server alike. Every generation is recorded in `<name>_meta` before its
collections exist, so the ones a killed rebuild leaves behind are known and deleted later, and
collections this index did not create are never touched. An index without a "live" record (one
built before generations existed, or never rebuilt) is generation "": `<name>_chunks`/`<name>_docs`.

We use chromadb directly rather than llama-index's `ChromaVectorStore` because that adapter
has no notion of this commit marker, of upserting by our own ids, or of the index's recorded
embedding model.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

from rag.backends.sparse import SCHEMA, SparseIndex
from rag.config import Config
from rag.errors import IndexProblem, StoreUnavailable

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

BATCH = 1000
LIVE = "live"  # the id of the record in `<name>_meta` that names the live generation
# Documents to bring in step one query each (by `where`); more than this and one pass over every
# chunk record (without vectors) is cheaper.
MIRROR_BY_DOCUMENT = 200


class Store:
    def __init__(self, config: Config):
        self.config = config

    @cached_property
    def client(self):
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False, allow_reset=False)
        if self.config.chroma.chroma_host:
            try:
                return chromadb.HttpClient(
                    host=self.config.chroma.chroma_host,
                    port=self.config.chroma.chroma_port,
                    ssl=self.config.chroma.chroma_ssl,
                    headers=self.config.chroma.chroma_headers or None,
                    settings=settings,
                )
            except Exception as exc:  # chromadb raises several types for a server that is down
                raise StoreUnavailable(
                    f"Cannot reach the Chroma server at {self.config.chroma.chroma_host}:{self.config.chroma.chroma_port} "
                    f"({exc.__class__.__name__}). Start it with `chroma run --path DIR --port "
                    f"{self.config.chroma.chroma_port}` or unset CHROMA_HOST to use the embedded store."
                ) from None
        path = self.config.paths.index_dir / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)

    @cached_property
    def _missing(self) -> type[Exception]:
        """What Chroma raises for a collection that is not there (imported late, like chromadb itself)."""
        from chromadb.errors import NotFoundError

        return NotFoundError

    def _call(self, fn, *args, **kwargs):
        """Run a client call, turning a lost server connection into a clear one-line error."""
        try:
            return fn(*args, **kwargs)
        except StoreUnavailable:
            raise
        except Exception as exc:
            if self.config.chroma.chroma_host and _is_connection_error(exc):
                raise StoreUnavailable(
                    f"Lost the Chroma server at {self.config.chroma.chroma_host}:{self.config.chroma.chroma_port} "
                    f"({exc.__class__.__name__})."
                ) from None
            raise

    def _prefix(self, generation: str) -> str:
        return f"{self.config.paths.collection}_{generation}" if generation else self.config.paths.collection

    def _names(self, generation: str) -> tuple[str, str]:
        prefix = self._prefix(generation)
        return f"{prefix}_chunks", f"{prefix}_docs"

    def sparse_path(self, generation: str) -> Path:
        """The generation's SQLite file: always in the local index folder, next to the locks and
        the reload marker that the processes sharing it on this machine use."""
        return self.config.paths.index_dir / f"{self._prefix(generation)}.sparse.sqlite3"

    @property
    def _meta_name(self) -> str:
        return f"{self.config.paths.collection}_meta"

    def _collection_names(self) -> set[str]:
        return {getattr(c, "name", c) for c in self._call(self.client.list_collections)}

    def _meta(self, create: bool = False):
        if create:
            return self._call(self.client.get_or_create_collection, self._meta_name, embedding_function=None)
        try:
            return self._call(self.client.get_collection, self._meta_name, embedding_function=None)
        except self._missing:
            return None

    def live_generation(self) -> str:
        meta = self._meta()
        if meta is None:
            return ""
        found = self._call(meta.get, ids=[LIVE], include=["metadatas"])
        return found["metadatas"][0]["generation"] if found["ids"] else ""

    def exists(self) -> bool:
        return self._on_live(lambda generation: set(self._names(generation)) <= self._collection_names())

    def _on_live(self, attempt):
        """`attempt(live generation)`, tried again when a falsy answer or a vanished collection
        coincides with another process switching generations under us."""
        generation = self.live_generation()
        for _ in range(3):
            try:
                result = attempt(generation)
            except self._missing:
                result = None
            if result:
                return result
            now = self.live_generation()
            if now == generation:
                return result
            generation = now
        return result

    def open(self, embed_model: str, create: bool = False, generation: str | None = None) -> StoredIndex:
        """The live generation of the index, or `generation` (one being built); refuses an index
        built with another embedding model."""
        if generation is not None:
            return self._open(embed_model, generation, create)
        if create:
            return self._open(embed_model, self.live_generation(), create)
        found = self._on_live(lambda live: self._open(embed_model, live, create))
        if not found:
            raise IndexProblem(f"No index found ({self.config.store_label}). Build it with `python -m rag index`.")
        return found

    def _open(self, embed_model: str, generation: str, create: bool):
        chunks_name, docs_name = self._names(generation)
        if create:
            chunks = self._call(
                self.client.get_or_create_collection,
                chunks_name,
                metadata={"hnsw:space": "cosine", "embed_model": embed_model},
                embedding_function=None,
            )
        else:
            # Not get_or_create: that would bring back, empty, a generation a rebuild just retired.
            chunks = self._call(self.client.get_collection, chunks_name, embedding_function=None)
        built_with = (chunks.metadata or {}).get("embed_model")
        if built_with and built_with != embed_model:
            raise IndexProblem(
                f"The index was built with embedding model '{built_with}' but RAG_EMBED_MODEL is "
                f"'{embed_model}'. Rebuild it with `python -m rag index --rebuild` or set "
                f"RAG_EMBED_MODEL={built_with}."
            )
        get_docs = self.client.get_or_create_collection if create else self.client.get_collection
        docs = self._call(get_docs, docs_name, embedding_function=None)
        return StoredIndex(self, chunks, docs, SparseIndex(self.sparse_path(generation)))

    # Generations: call these only while holding `indexing.index_lock`, so no other process is
    # building a generation that looks like a leftover.

    def start_generation(self) -> str:
        """A new, empty generation to build a whole index in, recorded (with the live one, which
        it will retire) before any of its collections is created."""
        live = self.live_generation()
        taken = self._collection_names()
        number = int(live or 0) + 1
        while taken & set(self._names(str(number))):  # names another index already uses
            number += 1
        generation = str(number)
        SparseIndex.delete_files(self.sparse_path(generation))  # not this index's: made by hand, or by a copy
        self._call(
            self._meta(create=True).upsert,
            ids=[f"generation:{live}", f"generation:{generation}"],
            embeddings=[[1.0], [1.0]],  # Chroma records need a vector; one dimension is enough
            metadatas=[{"generation": live}, {"generation": generation}],
        )
        return generation

    def make_live(self, generation: str) -> None:
        """The switch: from this single write on, readers open `generation`."""
        self._call(self._meta(create=True).upsert, ids=[LIVE], embeddings=[[1.0]], metadatas=[{"generation": generation}])

    def remove_leftovers(self) -> bool:
        """Delete every recorded generation that is not live: the one a rebuild retired, or a
        half-built one from a killed rebuild. True when there was something to delete."""
        meta = self._meta()
        if meta is None:
            return False
        records = self._call(meta.get, include=["metadatas"])  # a few records: no paging
        generations = {record_id: m["generation"] for record_id, m in zip(records["ids"], records["metadatas"])}
        live = generations.pop(LIVE, "")
        leftovers = {record_id: g for record_id, g in generations.items() if g != live}
        for record_id, generation in leftovers.items():
            self._delete_generation(record_id, generation)
        return bool(leftovers)

    def _delete_generation(self, record_id: str, generation: str) -> None:
        for name in self._names(generation):
            try:
                self._call(self.client.delete_collection, name)
            except self._missing:  # deleted before a kill, or never created
                pass
        SparseIndex.delete_files(self.sparse_path(generation))
        self._call(self._meta().delete, ids=[record_id])


class StoredIndex:
    """One generation of the index as domain operations: committed documents and their chunks,
    in the Chroma collections and the generation's SQLite file alike.

    Chunks of a document version are put first; `commit_documents` then writes the document's
    record, which makes that version visible; stale chunks are removed last. Chunks go to the file
    before Chroma, so every chunk Chroma holds is known there and stale ones are found without
    reading Chroma's chunk records; commits and removals go to Chroma first, which stays the
    record the file is brought in step from."""

    DELETE_BATCH = 500

    def __init__(self, store: Store, chunks, docs, sparse: SparseIndex):
        self._store, self._chunks, self._docs, self.sparse = store, chunks, docs, sparse

    def committed_versions(self) -> dict[str, str]:
        """Committed version per document (one read of the docs collection's metadata), after
        bringing the SQLite file in step, which reads no chunk record when it already is."""
        versions = self._chroma_versions()
        self._bring_in_step(versions)
        return versions

    def in_step(self) -> bool:
        """Whether the SQLite file holds exactly the committed versions, made by this code."""
        return (
            self.sparse.schema() == SCHEMA and self.sparse.current()
            and self.sparse.versions() == self._chroma_versions()
        )

    def bring_in_step(self) -> None:
        """Copy into the SQLite file what it lacks of the committed documents (call it holding the
        index lock, like every write)."""
        self._bring_in_step(self._chroma_versions())

    def _chroma_versions(self) -> dict[str, str]:
        records = self._all(self._docs, ["metadatas"])
        return {i: (m or {}).get("version") for i, m in zip(records["ids"], records["metadatas"])}

    def _bring_in_step(self, versions: dict[str, str]) -> None:
        sparse = self.sparse
        if sparse.schema() != SCHEMA:
            sparse.clear()
            sparse.mark_schema()
        if not sparse.current():
            sparse.reanalyse()
        held = sparse.versions()
        gone = [doc_id for doc_id in held if doc_id not in versions]
        if gone:
            sparse.remove_documents(gone)
        behind = [doc_id for doc_id, version in versions.items() if held.get(doc_id) != version]
        if not behind:
            return
        if len(behind) > MIRROR_BY_DOCUMENT:
            for page in self._pages(self._chunks, ["documents", "metadatas"]):
                sparse.put_chunks(page["ids"], page["documents"], [m or {} for m in page["metadatas"]])
        else:
            for start in range(0, len(behind), 100):
                found = self._store._call(
                    self._chunks.get, where={"doc_id": {"$in": behind[start : start + 100]}}, include=["documents", "metadatas"]
                )
                sparse.put_chunks(found["ids"], found["documents"], [m or {} for m in found["metadatas"]])
        for start in range(0, len(behind), BATCH):
            found = self._store._call(self._docs.get, ids=behind[start : start + BATCH], include=["documents", "metadatas"])
            sparse.commit_documents(
                (doc_id, text or "", meta or {}) for doc_id, text, meta in zip(found["ids"], found["documents"], found["metadatas"])
            )
        sparse.compact_if_due()

    def chunk_records(self, vectors: bool = True) -> list[tuple[str, str, dict, list | None]]:
        """Every stored chunk as (chunk_id, text, metadata, vector or None)."""
        include = ["documents", "metadatas"] + (["embeddings"] if vectors else [])
        records = self._all(self._chunks, include)
        found = records["embeddings"] if vectors else [None] * len(records["ids"])
        return list(zip(records["ids"], records["documents"], (m or {} for m in records["metadatas"]), found))

    def chunk_count(self) -> int:
        """Chunks of the committed versions, counted in the SQLite file (in step once a run has
        removed the stale ones; Chroma's own count took 0.7 s at 200k chunks)."""
        return self.sparse.chunk_total()

    def stored_chunk_ids(self, ids: list[str]) -> set[str]:
        """The chunks among `ids` stored in both Chroma and the SQLite file (one missing from
        either is put again)."""
        if not ids:
            return set()
        return set(self._store._call(self._chunks.get, ids=ids, include=[])["ids"]) & self.sparse.known_chunk_ids(ids)

    def chunks_of(self, doc_id: str) -> list[tuple[str, dict, list]]:
        """(text, metadata, vector) of every stored chunk of one document."""
        records = self._store._call(
            self._chunks.get, where={"doc_id": doc_id}, include=["documents", "metadatas", "embeddings"]
        )
        return list(zip(records["documents"], (m or {} for m in records["metadatas"]), records["embeddings"]))

    def put_chunks(self, ids: list[str], vectors, texts: list[str], metadatas: list[dict]) -> None:
        self.sparse.put_chunks(ids, texts, metadatas)
        self._store._call(
            self._chunks.upsert, ids=ids, embeddings=[list(map(float, v)) for v in vectors],
            documents=texts, metadatas=metadatas,
        )

    def commit_documents(self, documents: list[tuple[str, str, dict]]) -> None:
        """Make each (doc_id, text, metadata) the visible version (`metadata["version"]`) of its
        document, in one write to each store: embedded Chroma's cost per call grows with the
        collection (a call per document took 76 of the 113 s of indexing 995 articles)."""
        records = {doc_id: (text, metadata) for doc_id, text, metadata in documents}  # one record per id
        if not records:
            return
        # The docs collection needs a vector; one constant dimension is enough for a marker.
        self._store._call(
            self._docs.upsert, ids=list(records), embeddings=[[1.0]] * len(records),
            documents=[text for text, _ in records.values()], metadatas=[meta for _, meta in records.values()],
        )
        self.sparse.commit_documents([(doc_id, text, meta) for doc_id, (text, meta) in records.items()])

    def remove_documents(self, doc_ids: list[str]) -> None:
        for start in range(0, len(doc_ids), self.DELETE_BATCH):
            self._store._call(self._docs.delete, ids=doc_ids[start : start + self.DELETE_BATCH])
        self.sparse.remove_documents(doc_ids)

    def remove_stale_chunks(self, live: dict[str, str]) -> None:
        """Chunks whose (doc_id, version) is not in `live`: of removed documents, of superseded
        versions, and those a killed run left behind. Found in the SQLite file, which knows every
        chunk Chroma holds, one row per stored version: nothing is read per chunk when nothing changed."""
        stale = self.sparse.stale_chunks(live)
        for start in range(0, len(stale), self.DELETE_BATCH):
            self._store._call(self._chunks.delete, ids=stale[start : start + self.DELETE_BATCH])
        self.sparse.remove_chunks(stale)
        self.sparse.compact_if_due()  # the end of an indexing run: fold what it put into the base

    def nearest(self, vector, n: int, where: dict | None = None) -> list[str]:
        """Ids of the `n` chunks closest to `vector` (Chroma's HNSW search)."""
        result = self._store._call(self._chunks.query, query_embeddings=[list(map(float, vector))], n_results=n, where=where, include=[])
        return result["ids"][0]

    def vectors(self, ids: list[str]) -> dict[str, list[float]]:
        """The stored vectors of a few chunks, by id."""
        if not ids:
            return {}
        found = self._store._call(self._chunks.get, ids=ids, include=["embeddings"])
        return dict(zip(found["ids"], found["embeddings"]))

    def _pages(self, collection, include: list[str]) -> Iterator[dict]:
        """All records of a collection, a page at a time (Chroma caps one response's size)."""
        offset = 0
        while True:
            page = self._store._call(collection.get, include=include, limit=BATCH, offset=offset)
            for key in include:
                if page.get(key) is None:
                    page[key] = [None] * len(page["ids"])
            yield page
            if len(page["ids"]) < BATCH:
                return
            offset += BATCH

    def _all(self, collection, include: list[str]) -> dict:
        out: dict[str, list] = {"ids": [], **{key: [] for key in include}}
        for page in self._pages(collection, include):
            for key in ("ids", *include):
                out[key].extend(page[key])
        return out


def _is_connection_error(exc: Exception) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    text = str(exc).lower()
    return bool(names & {"ConnectError", "ConnectionError", "RemoteProtocolError", "ReadTimeout", "ConnectTimeout"}) or (
        "connect" in text and ("refused" in text or "error" in text)
    )
