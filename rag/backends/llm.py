"""LLM backends: a chat model behind an OpenAI-compatible API, and a scripted fake for tests.

An LLM takes chat messages and yields text deltas. Any failure (server down, HTTP error, malformed
stream, time limit) raises `GenerationFailed` with a short reason; the service then falls back to
the extractive answer with a visible notice.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from functools import cached_property
from typing import Protocol

from rag.config import Config, openai_client


class GenerationFailed(Exception):
    """The LLM call did not produce an answer; the message says why, in a few words."""


class LLM(Protocol):
    name: str

    def stream(self, messages: list[dict]) -> Iterator[str]: ...


class OpenAICompatibleLLM:
    """A chat model behind an OpenAI-compatible API (OpenAI, llama.cpp, Ollama, vLLM), streamed."""

    def __init__(self, config: Config):
        self.config = config

    @property
    def name(self) -> str:
        return self.config.llm.llm_model

    @cached_property
    def client(self):
        return openai_client(self.config, self.config.llm.openai_base_url, max_retries=0)

    def stream(self, messages: list[dict]) -> Iterator[str]:
        """Yield text deltas; raise GenerationFailed on any error or when the time limit passes."""
        import openai

        deadline = time.monotonic() + self.config.llm.llm_timeout
        stream = None
        try:
            stream = self.client.chat.completions.create(
                model=self.config.llm.llm_model,
                messages=messages,
                stream=True,
                temperature=0.1,
                max_tokens=self.config.llm.llm_max_tokens,
            )
            for event in stream:
                if time.monotonic() > deadline:
                    raise GenerationFailed(f"no complete answer within {self.config.llm.llm_timeout:.0f} s")
                choices = getattr(event, "choices", None) or []
                delta = choices[0].delta.content if choices and choices[0].delta else None
                if delta:
                    yield delta
        except GenerationFailed:
            raise
        except openai.APITimeoutError:
            raise GenerationFailed(f"timed out after {self.config.llm.llm_timeout:.0f} s") from None
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



class ScriptedLLM:
    """A deterministic stand-in for tests: it answers with the first sentence of the first source it
    was given, cited as [1], streamed word by word, or with `script` when one is set (a string, or a
    function of the messages). It never calls a network."""

    name = "fake-llm"

    def __init__(self, config: Config | None = None, script=None):
        self.script = script

    def stream(self, messages: list[dict]) -> Iterator[str]:
        if callable(self.script):
            text = self.script(messages)
        elif self.script is not None:
            text = self.script
        else:
            text = _first_source_sentence(messages[-1]["content"])
        for word in re.findall(r"\S+\s*", text):
            yield word


def _first_source_sentence(prompt: str) -> str:
    match = re.search(r"\[1\][^\n]*\n+(.+?[.!?])(\s|$)", prompt, re.S)
    if not match:
        return "The sources do not say."
    return f"{' '.join(match.group(1).split())} [1]"
