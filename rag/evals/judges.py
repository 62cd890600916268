"""LLM judges for evaluated answers: llama-index's `FaithfulnessEvaluator` and `CorrectnessEvaluator`.

They run only when the service has an LLM configured; otherwise `make_judges` says why they were
skipped. A judge that fails records its error instead of stopping the evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.service import Service
    from rag.types import Answer

JUDGES_SKIPPED = "LLM judges skipped: no LLM configured (set OPENAI_API_KEY or OPENAI_BASE_URL)"


@dataclass
class JudgeVerdict:
    """An LLM judge's verdict on one answer (llama-index `EvaluationResult`, flattened)."""

    name: str
    passing: bool | None
    score: float | None
    feedback: str = ""
    error: str | None = None


def judge_llm(config):
    """A llama-index LLM for the judges, from the service's OpenAI settings.

    `OpenAILike` (llama-index-llms-openai-like) is used when installed; otherwise the OpenAI class
    with its model-name lookups relaxed, so a local server's model name (e.g. "smollm2") works.
    """
    kwargs = dict(
        model=config.llm.llm_model,
        api_key=config.llm.openai_api_key or "sk-no-key",
        timeout=config.llm.llm_timeout,
        max_retries=1,
        temperature=0.0,
    )
    if config.llm.openai_base_url:
        kwargs["api_base"] = config.llm.openai_base_url
        try:
            from llama_index.llms.openai_like import OpenAILike

            return OpenAILike(is_chat_model=True, context_window=8192, **kwargs)
        except ImportError:
            pass
    from llama_index.core.base.llms.types import LLMMetadata
    from llama_index.llms.openai import OpenAI

    class CompatibleOpenAI(OpenAI):
        @property
        def metadata(self) -> LLMMetadata:
            try:
                return super().metadata
            except ValueError:  # a model name OpenAI's table does not know
                return LLMMetadata(context_window=8192, num_output=self.max_tokens or -1, is_chat_model=True,
                                   model_name=self.model)

        @property
        def _tokenizer(self):
            try:
                return super()._tokenizer
            except Exception:  # tiktoken knows no such model; token counting is not needed here
                return None

    return CompatibleOpenAI(**kwargs)


def make_judges(service: "Service") -> tuple[list, str]:
    """The (name, evaluator) pairs to run, and a sentence saying which judges run or why none do."""
    if service.llm is None:
        return [], JUDGES_SKIPPED
    from llama_index.core.evaluation import CorrectnessEvaluator, FaithfulnessEvaluator

    llm = judge_llm(service.config)
    judges = [("faithfulness", FaithfulnessEvaluator(llm=llm)), ("correctness", CorrectnessEvaluator(llm=llm))]
    where = service.config.llm.openai_base_url or "OpenAI"
    return judges, f"LLM judges: llama-index FaithfulnessEvaluator and CorrectnessEvaluator with {service.config.llm.llm_model} ({where})"


def judge_answer(judges: list, question: str, answer: "Answer", reference: str) -> list[JudgeVerdict]:
    """Every judge's verdict on `answer`: faithfulness to its cited quotes, correctness against `reference`."""
    out = []
    for name, judge in judges:
        try:
            if name == "faithfulness":
                if not answer.citations:
                    continue  # nothing to be faithful to: a decline
                result = judge.evaluate(query=question, response=answer.text, contexts=[c.quote for c in answer.citations])
            else:
                result = judge.evaluate(query=question, response=answer.text, reference=reference)
            out.append(JudgeVerdict(name, result.passing, result.score, (result.feedback or "")[:2000]))
        except Exception as exc:  # a judge failing must not stop the evaluation
            out.append(JudgeVerdict(name, None, None, error=f"{exc.__class__.__name__}: {exc}"[:500]))
    return out
