"""What the web app does when a user acts: answer in the chat, answer the `/ask` API, take uploads.

`ChatHandlers` wraps one `Service`; `rag/web/ui.py` wires its methods to the page's components.
Every value a client sends is checked by `rag.web.guards` first, and everything shown is rendered
safely by `rag.web.render`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from rag.errors import RagError
from rag.retrieval.search import as_of_date
from rag.service import Service
from rag.types import Answer, Citation
from rag.web import guards
from rag.web.render import md_text, render_answer, render_sources

log = logging.getLogger("rag.app")
ALL_OUTLETS = "All outlets"
SHOWN_TURNS = 50  # turns a session's chat keeps on screen (and in the server's memory)
# What an answer is made of for a program (the /ask endpoint here, the JSON API in rag/api).
ANSWER_KEYS = ("text", "citations", "answerable", "mode", "notice", "supported", "short_answer", "short_answer_confidence")
OOPS = "⚠️ Something went wrong while answering; the details are in the server log."


@dataclass
class Conversation:
    """One browser session's chat, kept on the server (in a gr.State): the messages shown and the
    (question, answer) texts that follow-ups need. The page's Chatbot only displays it; a client
    never sends the conversation back, so it cannot slip files, components or forged turns in."""

    messages: list[dict] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)

    def history(self, turns: int, answer_chars: int) -> list[tuple[str, str]]:
        """The latest `turns` turns, each answer cut to `answer_chars`: within the service's limits."""
        return [(q, a[:answer_chars]) for q, a in self.pairs[-turns:]] if turns else []

    def record(self, shown: list[dict], question: str, answer: str) -> None:
        self.messages.extend(shown)
        self.pairs.append((question, answer))
        del self.pairs[:-SHOWN_TURNS]
        del self.messages[: -3 * SHOWN_TURNS]  # a turn shows at most a question, an answer and its sources


def say(text: str, **metadata) -> dict:
    """One assistant message for the Chatbot; `metadata` (title, status) makes it a collapsible box."""
    return {"role": "assistant", "content": text, **({"metadata": metadata} if metadata else {})}


def answer_messages(text: str, answerable: bool, notice: str | None, citations: Sequence[Citation], app_url: str,
                    notes: Mapping[int, str] | None = None) -> list[dict]:
    """An answer as chat messages: the text with its [n] links, then its sources in a collapsible
    box; `notes` (by citation number) say which cited articles changed since a saved answer."""
    shown = render_answer(text, citations) if answerable else md_text(text)
    if notice:
        shown += f"\n\n*⚠️ {md_text(notice)}*"
    messages = [say(shown)]
    if citations:
        sources = render_sources(citations, app_url)
        if notes:
            sources += "\n\n" + "\n".join(f"*⚠️ \\[{n}\\] {md_text(note)}*" for n, note in sorted(notes.items()))
        messages.append(say(sources, title=f"Sources ({len(citations)})", status="done"))
    return messages


def _as_of(value: object):
    """The date a client sent, checked (QuestionError when it is not YYYY-MM-DD); empty means today."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return as_of_date(value)


class ChatHandlers:
    """The event handlers of the web app, over one service (no layout here)."""

    def __init__(self, service: Service, uploaded: Callable[[str], bool],
                 discard: Callable[[list[Path]], None] | None = None):
        """`uploaded(path)`: whether Gradio recorded `path` as a file a client uploaded;
        `discard(paths)` deletes uploaded files once the corpus holds its own copies."""
        self.service = service
        self.uploaded = uploaded
        self.discard = discard

    def outlets(self) -> list[str]:
        """Choices for the outlet filter: "All outlets", then every publisher in the corpus."""
        return [ALL_OUTLETS] + sorted({s.publisher for s in self.service.sources() if s.publisher})

    def corpus_rows(self) -> list[list]:
        """Rows of the corpus table: title, outlet, author, date, chunks."""
        sources = self.service.sources()
        return [[s.title, s.publisher or "", s.author or "", s.published or "", s.chunks] for s in sources]

    def respond(self, question, conversation, top_k, outlet, as_of=None,
                keep: Callable[[Answer], None] | None = None) -> Iterator[tuple[list, str | dict, Conversation]]:
        """Stream one answer into the chat, yielding (chat messages, question box, conversation).
        `conversation` is this session's `Conversation` (server-side state); `as_of`: the Settings
        date box (empty: today). `keep(answer)` is called with the final answer before it is
        shown (to save it).

        The question box is emptied once, by the first update, when the question is taken; the
        later updates leave it alone (`gr.update()`): a reader who starts typing the next question
        while this answer streams or is saved would otherwise lose it to a later update. A refused
        question stays in the box, to be corrected."""
        service = self.service
        limits = service.config.answering
        conversation = conversation if isinstance(conversation, Conversation) else Conversation()
        chat = list(conversation.messages)
        try:
            question = guards.question_text(question, limits.max_question_chars)
            top_k = guards.top_k(top_k, service.config.retrieval.top_k)
            outlet = guards.choice(outlet if outlet not in (None, "") else ALL_OUTLETS, self.outlets(), "outlet")
            as_of = _as_of(as_of)
        except RagError as exc:  # BadRequest, or QuestionError for a bad date
            yield chat + [say(f"⚠️ {md_text(str(exc))}")], gr.update(), conversation
            return
        asked = {"role": "user", "content": md_text(question)}
        if question.strip():
            chat.append(asked)
        yield chat, "", conversation
        publisher = None if outlet == ALL_OUTLETS else outlet
        history = conversation.history(limits.max_history_turns, limits.max_history_answer_chars)
        answer, partial = None, ""
        try:
            for event in service.stream(question, history=history, top_k=top_k, as_of=as_of, publisher=publisher):
                if isinstance(event, Answer):
                    answer = event
                else:
                    partial += event
                    yield chat + [say(md_text(partial, emphasis=True))], gr.update(), conversation
        except RagError as exc:  # the message is written for the user
            yield chat + [say(f"⚠️ {md_text(str(exc))}")], gr.update(), conversation
            return
        except Exception:
            log.exception("answering failed")
            yield chat + [say(OOPS)], gr.update(), conversation
            return
        # The final Answer replaces the streamed text: markers were checked and renumbered.
        if keep is not None:
            keep(answer)
        shown = [asked, *answer_messages(answer.text, answer.answerable, answer.notice, answer.citations,
                                         service.config.web.app_url)]
        conversation.record(shown, question, answer.text)
        yield list(conversation.messages), gr.update(), conversation

    # Gradio shows this docstring as the endpoint's description on the app's API page.
    def ask(self, question: str, history: list | str | None = None, top_k: int | None = None,
            as_of: str | None = None, keep: Callable[[Answer], dict] | None = None) -> dict:
        """Answer a question; history is a JSON list of [user, assistant] pairs from earlier turns;
        as_of is the day it is asked (YYYY-MM-DD, default today: later articles are left out and
        "this week" is read against it). Returns text (markdown with [n] markers), citations,
        answerable, mode, notice, short_answer (the bold answer shown, or null) and
        short_answer_confidence (its calibrated probability), and `error` (a message for the user,
        when the question was rejected)."""
        service = self.service
        try:
            question = guards.question_text(question, service.config.answering.max_question_chars)
            pairs = guards.history_pairs(history)
            top_k = guards.top_k(top_k, service.config.retrieval.top_k)
            answer = service.ask(question, history=pairs, top_k=top_k, as_of=_as_of(as_of))
            kept = keep(answer) if keep is not None else {}
        except RagError as exc:
            return self._refusal(str(exc))
        except Exception:
            log.exception("answering failed")
            return self._refusal(OOPS.removeprefix("⚠️ "))
        out = answer.to_dict()
        return {k: out[k] for k in ANSWER_KEYS} | kept | {"error": None}

    def _refusal(self, message: str) -> dict:
        return {
            "text": message, "citations": [], "answerable": False, "mode": self.service.mode, "notice": None,
            "supported": True, "short_answer": None, "short_answer_confidence": None, "error": message,
        }

    def upload(self, files, progress=gr.Progress()) -> tuple:
        """Add uploaded files to the corpus and index them. Returns (report markdown, corpus table
        rows, outlet dropdown update, file box update); a component that need not change gets an
        empty `gr.update()`."""
        if not files:
            return "Choose one or more files first.", gr.update(), gr.update(), gr.update()
        try:
            paths = guards.uploaded_paths(files, self.uploaded)
        except RagError as exc:
            return f"⚠️ {md_text(str(exc))}", gr.update(), gr.update(), gr.update()
        # Added or refused, the uploads have served their purpose: they are deleted, so the file
        # box is emptied too (else its stale files would be sent again with the next choice).
        spent = gr.update(value=None) if self.discard is not None else gr.update()
        try:
            # add_files checks every file fully in a staging folder before it enters the corpus.
            summary = self.service.add_files(
                paths, progress=lambda done, total: progress((done, total), desc="Embedding")
            )
        except RagError as exc:
            return f"⚠️ {md_text(str(exc))}", gr.update(), gr.update(), spent
        except Exception:
            log.exception("adding files failed")
            return "⚠️ Adding the files failed; the details are in the server log.", gr.update(), gr.update(), spent
        finally:
            if self.discard is not None:
                self.discard(paths)
        changed = summary.added or summary.updated
        head = f"**Added {len(summary.added)}, updated {len(summary.updated)}.**"
        parts = [head if changed else "**Nothing was added.**"]
        if summary.documents:  # an indexing run happened
            parts.append(md_text(summary.lines()[0]))
        problems = summary.skipped + summary.duplicates
        if problems:
            parts.append("\n".join(f"- {md_text(s.source)}: {md_text(s.reason)}" for s in problems))
        if summary.notes:
            parts.append("\n".join(f"- {md_text(note)}" for note in summary.notes))
        cleared = gr.update(value=None) if changed else spent
        return "\n\n".join(parts), self.corpus_rows(), gr.update(choices=self.outlets()), cleared
