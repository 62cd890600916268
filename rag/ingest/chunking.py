"""Splitting cleaned documents into chunks with character offsets, and counting tokens.

Token counts come from tiktoken's cl100k_base. Its vocabulary file is read from the copy that
llama-index-core ships, because tiktoken would otherwise download it on first use.
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from rag.config import Config
from rag.types import Chunk, Document


def _use_bundled_tiktoken_cache() -> None:
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        return
    spec = find_spec("llama_index.core")
    if spec and spec.origin:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(Path(spec.origin).parent / "_static" / "tiktoken_cache")


@lru_cache(maxsize=1)
def encoding():
    _use_bundled_tiktoken_cache()
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


# NLTK's Punkt sentence tokenizer is quadratic in the length of a run of text without whitespace
# that holds many sentence ends ("?!)?!)..."), and gives up with TimeoutError after 5 s on a long
# enough paragraph. Real prose has neither, so such text skips Punkt; the splitter then cuts it
# at punctuation, spaces or characters, which is linear.
PUNKT_MAX_CHARS = 100_000
_LONG_RUN = re.compile(r"(?<!\S)\S{1000}")


def _sentence_splitter():
    from llama_index.core.node_parser.text.utils import split_by_sentence_tokenizer

    punkt = split_by_sentence_tokenizer()

    def split(text: str) -> list[str]:
        if len(text) > PUNKT_MAX_CHARS or _LONG_RUN.search(text):
            return [text]
        try:
            return punkt(text)
        except TimeoutError:
            return [text]

    return split


def chunk_id(doc: Document, chunk_hash_key: str, start: int, text: str) -> str:
    """Unique per document version, so a new version's chunks never overwrite the committed ones."""
    digest = hashlib.sha1(f"{doc.doc_id}\0{doc.content_hash}\0{chunk_hash_key}\0{start}\0{text}".encode()).hexdigest()
    return digest[:24]


class Chunker:
    """llama-index's `SentenceSplitter` (token-sized, sentence-aware), plus each chunk's span."""

    def __init__(self, config: Config):
        from llama_index.core.node_parser import SentenceSplitter

        self.splitter = SentenceSplitter(
            chunk_size=config.ingest.chunk_tokens,
            chunk_overlap=config.ingest.chunk_overlap,
            tokenizer=lambda text: encoding().encode(text, disallowed_special=()),
            paragraph_separator="\n\n",
            chunking_tokenizer_fn=_sentence_splitter(),
        )
        self.key = f"{config.ingest.chunk_tokens}/{config.ingest.chunk_overlap}"

    def split(self, doc: Document) -> list[Chunk]:
        chunks: list[Chunk] = []
        cursor = 0
        for piece in self.splitter.split_text(doc.text):
            piece = piece.strip()
            if not piece:
                continue
            # Chunks overlap but each starts after the previous one's start. Searching from there,
            # never before, finds a repeated passage's own occurrence, so starts increase and
            # every chunk id (which hashes the start) is unique within the document.
            start = doc.text.find(piece, cursor)
            if start < 0:
                # The splitter normalised whitespace inside the piece; cite the text as stored.
                continue
            end = start + len(piece)
            chunks.append(Chunk(chunk_id(doc, self.key, start, piece), doc.doc_id, piece, start, end))
            cursor = start + 1
        return chunks

    @staticmethod
    def embedding_text(doc: Document, chunk: Chunk) -> str:
        """The headline gives a chunk its topic, which a mid-article passage often lacks."""
        if chunk.text.startswith(doc.title):
            return chunk.text
        return f"{doc.title}\n{chunk.text}"
