"""The Chroma store: embedded (`PersistentClient` in the index folder) or a server (`HttpClient`).

Two collections per index:
- `<name>_chunks`: one record per chunk (embedding, text, document metadata, character span);
- `<name>_docs`: one record per committed document version (hash, metadata, cleaned text).

A document's record in `_docs` is its commit marker: queries only see chunks whose document
hash matches the committed one, so an interrupted indexing run never shows half a document.
We use chromadb directly rather than llama-index's `ChromaVectorStore` because that adapter
has no notion of this commit marker, of upserting by our own ids, or of the index's recorded
embedding model.
"""

from __future__ import annotations

import os
from functools import cached_property

from rag.config import Config
from rag.errors import IndexProblem, StoreUnavailable

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

BATCH = 1000


class Store:
    def __init__(self, config: Config):
        self.config = config

    @cached_property
    def client(self):
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False, allow_reset=False)
        if self.config.chroma_host:
            try:
                return chromadb.HttpClient(
                    host=self.config.chroma_host,
                    port=self.config.chroma_port,
                    ssl=self.config.chroma_ssl,
                    headers=self.config.chroma_headers or None,
                    settings=settings,
                )
            except Exception as exc:  # chromadb raises several types for a server that is down
                raise StoreUnavailable(
                    f"Cannot reach the Chroma server at {self.config.chroma_host}:{self.config.chroma_port} "
                    f"({exc.__class__.__name__}). Start it with `chroma run --path DIR --port "
                    f"{self.config.chroma_port}` or unset CHROMA_HOST to use the embedded store."
                ) from None
        path = self.config.index_dir / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)

    def _call(self, fn, *args, **kwargs):
        """Run a client call, turning a lost server connection into a clear one-line error."""
        try:
            return fn(*args, **kwargs)
        except StoreUnavailable:
            raise
        except Exception as exc:
            if self.config.chroma_host and _is_connection_error(exc):
                raise StoreUnavailable(
                    f"Lost the Chroma server at {self.config.chroma_host}:{self.config.chroma_port} "
                    f"({exc.__class__.__name__})."
                ) from None
            raise

    @property
    def chunks_name(self) -> str:
        return f"{self.config.collection}_chunks"

    @property
    def docs_name(self) -> str:
        return f"{self.config.collection}_docs"

    def exists(self) -> bool:
        names = {getattr(c, "name", c) for c in self._call(self.client.list_collections)}
        return self.chunks_name in names and self.docs_name in names

    def open(self, embed_model: str, create: bool = False):
        """The (chunks, docs) collections; refuses an index built with another embedding model."""
        if not create and not self.exists():
            raise IndexProblem(f"No index found ({self.config.store_label}). Build it with `python -m rag index`.")
        chunks = self._call(
            self.client.get_or_create_collection,
            self.chunks_name,
            metadata={"hnsw:space": "cosine", "embed_model": embed_model},
            embedding_function=None,
        )
        built_with = (chunks.metadata or {}).get("embed_model")
        if built_with and built_with != embed_model:
            raise IndexProblem(
                f"The index was built with embedding model '{built_with}' but RAG_EMBED_MODEL is "
                f"'{embed_model}'. Rebuild it with `python -m rag index --rebuild` or set "
                f"RAG_EMBED_MODEL={built_with}."
            )
        docs = self._call(self.client.get_or_create_collection, self.docs_name, embedding_function=None)
        return chunks, docs

    def drop(self) -> None:
        for name in (self.chunks_name, self.docs_name):
            try:
                self._call(self.client.delete_collection, name)
            except StoreUnavailable:
                raise
            except Exception:  # not there: nothing to drop
                pass

    def get_all(self, collection, include: list[str], where: dict | None = None) -> dict:
        """All records of a collection, fetched in pages (Chroma caps one response's size)."""
        out: dict[str, list] = {"ids": [], **{key: [] for key in include}}
        offset = 0
        while True:
            page = self._call(collection.get, include=include, where=where, limit=BATCH, offset=offset)
            out["ids"].extend(page["ids"])
            for key in include:
                values = page.get(key)
                out[key].extend(values if values is not None else [None] * len(page["ids"]))
            if len(page["ids"]) < BATCH:
                return out
            offset += BATCH


def _is_connection_error(exc: Exception) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    text = str(exc).lower()
    return bool(names & {"ConnectError", "ConnectionError", "RemoteProtocolError", "ReadTimeout", "ConnectTimeout"}) or (
        "connect" in text and ("refused" in text or "error" in text)
    )
