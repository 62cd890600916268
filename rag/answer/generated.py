"""Answer generation with an LLM behind an OpenAI-compatible API (OpenAI, llama.cpp, Ollama, vLLM).

The model sees numbered sources built from the retrieved passages and is told to cite them. Any
failure (server down, HTTP error, malformed stream, time limit) raises `GenerationFailed` with a
short reason, and the pipeline falls back to the extractive answer with a visible notice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import cached_property

from rag.ingest.chunking import count_tokens
from rag.config import PROMPTS_DIR, Config, openai_client
from rag.types import Passage

DECLINE_PHRASES = ("the sources do not say", "sources do not contain", "cannot answer", "not mentioned in the sources")


class GenerationFailed(Exception):
    """The LLM call did not produce an answer; the message says why, in a few words."""


def load_prompt(name: str) -> str:
    return (PROMPTS_DIR / f"{name}.txt").read_text(encoding="utf-8")


def build_context(passages: list[Passage], budget_tokens: int) -> list[Passage]:
    """As many of the passages (best first) as fit in the token budget; always at least one."""
    kept, used = [], 0
    for passage in passages:
        cost = count_tokens(passage.text) + 20
        if kept and used + cost > budget_tokens:
            break
        kept.append(passage)
        used += cost
    return kept


def format_sources(passages: list[Passage]) -> str:
    template = load_prompt("source")
    parts = []
    for number, p in enumerate(passages, 1):
        byline = ", ".join(x for x in (p.publisher, p.published) if x)
        parts.append(template.format(number=number, title=p.title, byline=f" ({byline})" if byline else "", text=p.text).strip())
    return "\n\n".join(parts)


class LLM:
    def __init__(self, config: Config):
        self.config = config

    @property
    def name(self) -> str:
        return self.config.llm_model

    @cached_property
    def client(self):
        return openai_client(self.config, self.config.openai_base_url, max_retries=0)

    def messages(self, question: str, passages: list[Passage], history: list[tuple[str, str]]) -> list[dict]:
        out = [{"role": "system", "content": load_prompt("system")}]
        for user, assistant in history[-3:]:
            out.append({"role": "user", "content": user})
            out.append({"role": "assistant", "content": assistant})
        out.append({"role": "user", "content": load_prompt("question").format(sources=format_sources(passages), question=question)})
        return out

    def stream(self, messages: list[dict]) -> Iterator[str]:
        """Yield text deltas; raise GenerationFailed on any error or when the time limit passes."""
        import openai

        deadline = time.monotonic() + self.config.llm_timeout
        stream = None
        try:
            stream = self.client.chat.completions.create(
                model=self.config.llm_model,
                messages=messages,
                stream=True,
                temperature=0.1,
                max_tokens=self.config.llm_max_tokens,
            )
            for event in stream:
                if time.monotonic() > deadline:
                    raise GenerationFailed(f"no complete answer within {self.config.llm_timeout:.0f} s")
                choices = getattr(event, "choices", None) or []
                delta = choices[0].delta.content if choices and choices[0].delta else None
                if delta:
                    yield delta
        except GenerationFailed:
            raise
        except openai.APITimeoutError:
            raise GenerationFailed(f"timed out after {self.config.llm_timeout:.0f} s") from None
        except openai.APIConnectionError as exc:
            raise GenerationFailed(f"cannot reach the server ({_cause(exc)})") from None
        except openai.APIStatusError as exc:
            raise GenerationFailed(f"HTTP {exc.status_code} from the server") from None
        except Exception as exc:  # a malformed stream surfaces as JSON, httpx or attribute errors
            raise GenerationFailed(f"unreadable response ({exc.__class__.__name__})") from None
        finally:
            if stream is not None:
                try:
                    stream.close()
                except Exception:  # closing a broken connection may fail again; nothing to do
                    pass


def _cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc.__class__.__name__


def is_decline(text: str) -> bool:
    lowered = text.lower()
    return any(phrase in lowered for phrase in DECLINE_PHRASES)
