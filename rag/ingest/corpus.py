"""The corpus folder as documents: every file through the isolated loader, duplicates set aside."""

from __future__ import annotations

from pathlib import Path

from rag.config import Config
from rag.ingest.isolation import LoaderWorker
from rag.ingest.loading import content_hash, iter_files, read_sidecar
from rag.types import Document, Skipped


def load_corpus(
    folder: Path, max_bytes: int = 20 * 1024 * 1024, config: Config | None = None
) -> tuple[list[Document], list[Skipped], list[Skipped]]:
    """Every usable document under `folder`, recursively, each file loaded and chunked in a worker
    process under `config`'s limits (`load_timeout`, `load_memory_mb`; default: from the environment).

    Returns (documents, skipped, duplicates): identical documents are kept once and the later
    copies are listed as duplicates.
    """
    skipped: list[Skipped] = []
    duplicates: list[Skipped] = []
    sidecar = read_sidecar(folder, skipped)
    documents: list[Document] = []
    seen_text: dict[str, str] = {}
    seen_ids: set[str] = set()
    with LoaderWorker(config or Config.from_env()) as worker:
        for path in iter_files(folder):
            rel = path.relative_to(folder).as_posix()
            loaded, problems = worker.load(path, folder, sidecar.get(rel, {}), max_bytes)
            skipped.extend(problems)
            for doc in loaded:
                text_key = content_hash(doc.text)
                if text_key in seen_text:
                    duplicates.append(Skipped(doc.source, f"same text as {seen_text[text_key]}"))
                    continue
                if doc.doc_id in seen_ids:
                    doc.doc_id = f"{doc.doc_id}{Path(rel).suffix}"
                if doc.doc_id in seen_ids:
                    duplicates.append(Skipped(doc.source, f"document id '{doc.doc_id}' already used"))
                    continue
                seen_text[text_key] = doc.source
                seen_ids.add(doc.doc_id)
                documents.append(doc)
    return documents, skipped, duplicates
