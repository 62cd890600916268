"""What the web app does for a team: who is asking and what their role lets them do, saved
conversations in the sidebar, permalinks to answers, thumbs up and down, the admin's Users and
Quality tabs. `rag/web/ui.py` wires these handlers to the page; the data lives in rag/team.

Every handler finds the user from Gradio's login (`request.username`, a `SessionUser` carrying the
account id) and looks the account up again by that id, so a removed user or a changed role takes
effect on the next click, and a new account given a removed one's name gets none of its data;
roles are checked here, on the server, whatever the page shows or hides. With no account and no
RAG_AUTH the app has no login and everyone who reaches it is the one local admin ("local").
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import gradio as gr

from rag.errors import RagError
from rag.ingest.locks import generation
from rag.service import Service
from rag.team.accounts import Account, AccountError, Accounts, Role
from rag.team.conversations import ConversationView, Conversations, NotFound, SavedTurn, citation_notes
from rag.team.db import Database, open_database
from rag.team.models import LOCAL_ID
from rag.team.feedback import FeedbackStore
from rag.team.quality import quality_figure, quality_report
from rag.team.sessions import LoginSessions
from rag.team.tokens import ApiTokens
from rag.types import Answer
from rag.web import guards
from rag.web.chat import ALL_OUTLETS, ChatHandlers, answer_messages
from rag.web.chat import Conversation as ChatSession
from rag.web.render import md_text

log = logging.getLogger("rag.app")
LOCAL = Account(LOCAL_ID, "local", Role.ADMIN)
QUALITY_DAYS = (7, 30, 90)


class Forbidden(RagError):
    """The user may not do this (not logged in, account removed, or the role does not allow it)."""


@dataclass
class Team:
    """The team database's stores, opened once per app process."""

    database: Database
    accounts: Accounts
    conversations: Conversations
    feedback: FeedbackStore
    sessions: LoginSessions
    login: bool  # decided at start: RAG_AUTH is set or an account exists
    tokens: ApiTokens | None = None  # personal API tokens (the JSON API and MCP); set by `open`

    @classmethod
    def open(cls, service: Service) -> Team:
        config = service.config
        database = open_database(config)
        accounts = Accounts(database, config.web.auth_pair)
        sessions = LoginSessions(database, dt.timedelta(days=config.team.session_days), accounts)
        return cls(database, accounts, Conversations(database), FeedbackStore(database), sessions,
                   accounts.login_required(), ApiTokens(database, accounts))

    @property
    def cookie_name(self) -> str:
        """The login cookie's name suffix, the same in every process serving this database (Gradio
        draws a random one per process, which another process would not read)."""
        return hashlib.sha256(f"newsrag-login:{self.database.label}".encode()).hexdigest()[:32]

    async def check_login(self, username: str, password: str) -> bool:
        """Gradio's login form calls this. The slow hash runs in a thread: on the event loop, every
        login would stall every other user's page for its fraction of a second."""
        account = await asyncio.to_thread(self.accounts.check, username, password)
        self.sessions.checked(account)  # the login Gradio stores next is this account's, by id
        return account is not None

    def account(self, user: str | None) -> Account | None:
        """The account behind a request's user (LOCAL when the app has no login)."""
        if not self.login:
            return LOCAL
        return self.accounts.identify(user)

    def save_answer(self, service: Service, account: Account, conversation: str | None, answer: Answer,
                    top_k, outlet, as_of) -> SavedTurn:
        """Save `answer` to `account`'s conversation (None: a new one), with the settings that shaped
        it and the cited articles' versions (so a later look can say which changed)."""
        hashes = {}
        for c in answer.citations:
            doc = service.document(c.doc_id)
            if doc is not None:
                hashes[c.doc_id] = doc.content_hash
        settings = {"top_k": top_k, "outlet": outlet or ALL_OUTLETS, "as_of": as_of or "", "mode": answer.mode}
        return self.conversations.save_turn(
            account.id, conversation or None, answer, settings, index_generation(service), hashes
        )


def index_generation(service: Service) -> str:
    """Which index answered: the live generation and when it last changed (saved with answers)."""
    return f"{service.store.live_generation() or 'first'}@{generation(service.config):.0f}"


class TeamHandlers:
    """The team's event handlers over one service and its `Team`."""

    def __init__(self, service: Service, chat: ChatHandlers, team: Team):
        self.service, self.chat, self.team = service, chat, team

    # Who is asking -------------------------------------------------------------------------------

    def user(self, request: gr.Request | None, role: Role = Role.READER) -> Account:
        account = self.team.account(getattr(request, "username", None))
        if account is None:
            raise Forbidden("Your session has ended or your account was removed: log in again.")
        if role is Role.EDITOR and not account.role.can_upload:
            raise Forbidden("Adding articles needs an editor or admin account.")
        if role is Role.ADMIN and not account.role.can_manage:
            raise Forbidden("This needs an admin account.")
        return account

    def fetcher(self, request: gr.Request | None) -> Account:
        """Who may add links and feeds, which make the server fetch an address a user typed: an
        editor or admin who logged in (an app without a login has nobody to hold to it)."""
        if not self.team.login:
            raise Forbidden("Only a logged-in editor can add links and feeds, and this app has no login. "
                            "Use `python -m rag add URL` or `python -m rag feeds add URL` instead.")
        return self.user(request, Role.EDITOR)

    def page(self, request: gr.Request) -> tuple:
        """On page load: the user line, the sidebar, which parts this role sees, and why the links
        and feeds controls are missing when they are (a button that only refuses is a trap)."""
        try:
            account = self.user(request)
        except Forbidden as exc:
            hidden = gr.update(visible=False)
            return f"⚠️ {md_text(str(exc))}", gr.update(choices=[]), hidden, hidden, hidden, hidden, hidden, ""
        who = (
            f"**{md_text(account.username)}** ({account.role.value}) · [Log out](/logout)" if self.team.login
            else "No login: add accounts with `python -m rag users add NAME`."
        )
        try:
            self.fetcher(request)
            fetch_note = ""
        except Forbidden as exc:
            fetch_note = md_text(str(exc))
        return (
            who, self._sidebar(account), gr.update(visible=account.role.can_upload),
            gr.update(visible=account.role.can_manage), gr.update(visible=account.role.can_manage),
            gr.update(visible=self.team.login), gr.update(visible=not fetch_note), fetch_note,
        )

    # Asking and saving ---------------------------------------------------------------------------

    def respond(self, question, session, top_k, outlet, as_of, conversation, turns,
                request: gr.Request) -> Iterator[tuple]:
        """The chat's answer (rag.web.chat), saved to the user's conversation as it is shown.
        Yields (chat, question box, session, conversation id, turn of each message, sidebar,
        share choices). `turns[i]` is the saved turn behind the session's message i (or None)."""
        turns = list(turns or [])
        try:
            account = self.user(request)
        except Forbidden as exc:
            shown = list(getattr(session, "messages", [])) + [_say(str(exc))]
            yield shown, gr.update(), session, conversation, turns, gr.update(), gr.update()
            return
        saved: list[SavedTurn] = []
        failed: list[RagError] = []
        added: list[int] = []

        def keep(answer: Answer) -> None:
            added.append(2 + bool(answer.citations))  # the question, the answer, its sources box
            try:
                saved.append(self._save(account, conversation, answer, top_k, outlet, as_of))
            except RagError as exc:  # the database failed: the answer is still shown, unsaved
                log.warning("could not save an answer: %s", exc)
                failed.append(exc)
            except Exception:  # a bug must not lose the answer either
                log.exception("saving an answer failed")
                failed.append(RagError("the details are in the server log"))

        last = None
        for last in self.chat.respond(question, session, top_k, outlet, as_of, keep=keep):
            if not added:
                yield *last, conversation, turns, gr.update(), gr.update()
        if last is None or not added:
            return
        shown, _, session = last
        turn_id = saved[0].turn_id if saved else None
        turns = (turns + [None] + [turn_id] * (added[0] - 1))[-len(session.messages):]
        if failed:
            shown = shown + [_say(f"This answer was not saved: {failed[0]}")]
            yield shown, gr.update(), session, conversation, turns, gr.update(), gr.update()
            return
        conversation = saved[0].conversation_id
        sidebar, answers = self._sidebar(account, selected=conversation), self._answers(account, conversation)
        # The box was emptied when the question was taken (rag.web.chat): what the reader has
        # typed since stays.
        yield shown, gr.update(), session, conversation, turns, sidebar, answers

    def _save(self, account: Account, conversation: str | None, answer: Answer, top_k, outlet, as_of) -> SavedTurn:
        return self.team.save_answer(self.service, account, conversation, answer, top_k, outlet, as_of)

    def ask(self, question: str, history: list | str | None = None, top_k: int | None = None,
            as_of: str | None = None, request: gr.Request = None) -> dict:
        """Answer a question; history is a JSON list of [user, assistant] pairs from earlier turns;
        as_of is the day it is asked (YYYY-MM-DD, default today: later articles are left out and
        "this week" is read against it). Returns text (markdown with [n] markers), citations,
        answerable, mode, notice, and `error` (a message for the user, when the question was rejected)."""
        try:
            self.user(request)
        except RagError as exc:
            return self.chat._refusal(str(exc))
        return self.chat.ask(question, history, top_k, as_of)

    def ask_saved(self, question: str, conversation: str = "new", top_k: int | None = None,
                  as_of: str | None = None, request: gr.Request = None) -> dict:
        """Answer a question and save it to one of your conversations: conversation is "new" (a
        new conversation, titled after the question) or the id an earlier reply returned (its
        turns are the history). Returns what /ask returns, plus `conversation` and `turn` (ids)."""
        try:
            account = self.user(request)
            if not isinstance(conversation, str) or not conversation.strip():
                raise guards.BadRequest('conversation must be "new" or a conversation id.')
            target = None if conversation.strip() == "new" else conversation.strip()
            saved = [] if target is None else self.team.conversations.open(account.id, target).history()
        except RagError as exc:
            return self.chat._refusal(str(exc))
        limits = self.service.config.answering
        # Like the chat: the latest turns within the service's history limits.
        history = ChatSession(pairs=saved).history(limits.max_history_turns, limits.max_history_answer_chars)

        def keep(answer: Answer) -> dict:
            turn = self._save(account, target, answer, top_k, ALL_OUTLETS, as_of)
            return {"conversation": turn.conversation_id, "turn": turn.turn_id}

        return self.chat.ask(question, [list(pair) for pair in history], top_k, as_of, keep=keep)

    def upload(self, files, request: gr.Request, progress=gr.Progress()) -> tuple:
        """Uploads, for editors and admins only."""
        try:
            self.user(request, Role.EDITOR)
        except Forbidden as exc:
            return f"⚠️ {md_text(str(exc))}", gr.update(), gr.update(), gr.update()
        return self.chat.upload(files, progress)

    # The sidebar ---------------------------------------------------------------------------------

    def _sidebar(self, account: Account, search: str = "", selected: str | None = None):
        """The conversation list; when it is empty, its label says why (none yet, or none found)."""
        found = self.team.conversations.list(account.id, search or None)
        choices = [(c.title, c.conversation_id) for c in found]
        if choices:
            empty = ""
        elif search.strip():
            empty = f"No conversation matches “{search.strip()[:60]}”."
        else:
            empty = "No conversations yet: ask a question to start one."
        return gr.update(choices=choices, value=selected if selected in {c for _, c in choices} else None,
                         label=empty or "Your conversations", show_label=bool(empty))

    def search(self, words, request: gr.Request):
        try:
            return self._sidebar(self.user(request), words if isinstance(words, str) else "")
        except RagError as exc:
            gr.Warning(str(exc))
            return gr.update()

    def new(self) -> tuple:
        """A fresh conversation: (chat, session, conversation id, turns, sidebar selection, title box)."""
        return [], ChatSession(), None, [], gr.update(value=None), ""

    def open(self, conversation, request: gr.Request) -> tuple:
        """Load a saved conversation: (chat, session, conversation id, turns, title box, share choices)."""
        try:
            account = self.user(request)
            view = self.team.conversations.open(account.id, str(conversation or ""))
        except RagError as exc:
            gr.Warning(str(exc))
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
        chat, turns = self.render(view)
        session = ChatSession(messages=chat, pairs=view.history())
        return list(chat), session, view.conversation_id, turns, view.title, self._answers(account, view.conversation_id)

    def render(self, view: ConversationView) -> tuple[list[dict], list[int | None]]:
        """A saved conversation as chat messages, each answer with its sources as they were (and a
        note where an article changed or left the corpus since), and the turn behind each message."""
        chat: list[dict] = []
        turns: list[int | None] = []
        app_url = self.service.config.web.app_url
        for turn in view.turns:
            notes = citation_notes(turn.citations, self.service.document)
            shown = answer_messages(turn.answer, turn.answerable, turn.notice, turn.citations, app_url, notes)
            chat += [{"role": "user", "content": md_text(turn.question)}, *shown]
            turns += [None] + [turn.turn_id] * len(shown)
        return chat, turns

    def rename(self, title, conversation, request: gr.Request):
        try:
            account = self.user(request)
            if not conversation:
                raise NotFound("Open or start a conversation first.")
            self.team.conversations.rename(account.id, str(conversation), str(title or ""))
            return self._sidebar(account, selected=conversation)
        except RagError as exc:
            gr.Warning(str(exc))
            return gr.update()

    def title_of(self, conversation, request: gr.Request):
        """The title box's text: the open conversation's title (unchanged when there is none)."""
        if not conversation:
            return gr.update()
        try:
            return self.team.conversations.open(self.user(request).id, str(conversation)).title
        except RagError:
            return gr.update()

    def ask_delete(self, conversation, request: gr.Request) -> tuple:
        """The question before deleting: (confirmation box, its text, the delete report)."""
        try:
            account = self.user(request)
            if not conversation:
                raise NotFound("Open a conversation first.")
            view = self.team.conversations.open(account.id, str(conversation))
        except RagError as exc:
            return gr.update(visible=False), "", f"⚠️ {md_text(str(exc))}"
        answers = f"{len(view.turns)} answer" + ("" if len(view.turns) == 1 else "s")
        text = f"Delete “{md_text(view.title)}” and its {answers}? Links shared from it stop opening."
        return gr.update(visible=True), text, ""

    def delete(self, conversation, request: gr.Request) -> tuple:
        """Delete the open conversation, once confirmed: (sidebar, the fresh state of `new`, share
        choices, confirmation box, what was deleted)."""
        try:
            account = self.user(request)
            if not conversation:
                raise NotFound("Open a conversation first.")
            title = self.team.conversations.open(account.id, str(conversation)).title
            self.team.conversations.delete(account.id, str(conversation))
        except RagError as exc:
            return (*(gr.update(),) * 7, gr.update(visible=False), f"⚠️ {md_text(str(exc))}")
        return (self._sidebar(account), *self.new()[:4], "", gr.update(choices=[], value=None),
                gr.update(visible=False), f"Deleted “{md_text(title)}”.")

    # Sharing -------------------------------------------------------------------------------------

    def _answers(self, account: Account, conversation: str | None):
        """The share box's choice of answers: the conversation's questions, the last one chosen."""
        if not conversation:
            return gr.update(choices=[], value=None)
        turns = self.team.conversations.open(account.id, conversation).turns
        choices = [(f"{t.position + 1}. {t.question[:80]}", t.turn_id) for t in turns]
        return gr.update(choices=choices, value=choices[-1][1] if choices else None)

    def _links(self, account: Account, fresh: str | None = None):
        shares = self.team.conversations.shares(account.id)
        return gr.update(choices=[(f"{s.question[:60]} · {s.token[:8]}…", s.token) for s in shares], value=fresh)

    def share(self, turn_id, request: gr.Request) -> tuple:
        """A permalink to the chosen answer: (link markdown, the user's links)."""
        try:
            if not self.team.login:
                raise Forbidden("Sharing needs accounts: add one with `python -m rag users add NAME`.")
            account = self.user(request)
            if turn_id in (None, ""):
                raise NotFound("Choose an answer to share first.")
            token = self.team.conversations.share(account.id, _int(turn_id))
        except RagError as exc:
            return f"⚠️ {md_text(str(exc))}", gr.update()
        url = f"{self.service.config.web.app_url}/shared/{token}"
        return (f"Read-only link for the app's logged-in users: [{md_text(url)}]({url})"
                "\n\nRevoke it under *Your links*."), self._links(account, token)

    def links(self, request: gr.Request):
        try:
            return self._links(self.user(request))
        except RagError:
            return gr.update(choices=[], value=None)

    def revoke(self, token, request: gr.Request) -> tuple:
        try:
            account = self.user(request)
            self.team.conversations.revoke(account.id, str(token or ""))
        except RagError as exc:
            return f"⚠️ {md_text(str(exc))}", gr.update()
        return "The link no longer opens.", self._links(account)

    # Feedback ------------------------------------------------------------------------------------

    def rate(self, turns, like: gr.LikeData, request: gr.Request) -> tuple:
        """A thumbs up or down on an answer (or its sources box): saved at once; then the feedback
        box opens for a comment and what the answer should have said.
        Returns (feedback box, its heading, rated turn state, comment, correction, sent note)."""
        keep = gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
        turns = turns if isinstance(turns, list) else []
        index = like.index if isinstance(like.index, int) and not isinstance(like.index, bool) else None
        turn_id = turns[index] if index is not None and 0 <= index < len(turns) else None
        if turn_id is None:
            gr.Info("Only saved answers can be rated.")
            return keep
        try:
            account = self.user(request)
            record = self.team.feedback.rate(account.id, turn_id, bool(like.liked))
        except RagError as exc:
            gr.Warning(str(exc))
            return keep
        # Words, not 👍/👎: a system without an emoji font (Debian's Chromium) shows empty boxes.
        verdict = "Thumbs up" if record.rating > 0 else "Thumbs down"
        heading = f"**{verdict} saved** for “{md_text(record.question[:120])}”. Tell us more (optional):"
        return gr.update(visible=True), heading, turn_id, record.comment, record.correction, ""

    def send_feedback(self, turn_id, comment, correction, request: gr.Request) -> str:
        try:
            account = self.user(request)
            if turn_id is None:
                raise NotFound("Rate an answer with a thumb first.")
            earlier = self.team.feedback.of_turn(account.id, _int(turn_id))
            if earlier is None:
                raise NotFound("Rate an answer with a thumb first.")
            self.team.feedback.rate(account.id, _int(turn_id), earlier.rating, comment, correction)
        except RagError as exc:
            return f"⚠️ {md_text(str(exc))}"
        return "Thank you: saved with the answer, for the editors' review."

    # Admin: users --------------------------------------------------------------------------------

    def user_rows(self, request: gr.Request) -> list[list[str]]:
        try:
            self.user(request, Role.ADMIN)
        except Forbidden:
            return []
        return [[a.username, a.role.value, "RAG_AUTH" if a.from_settings else a.created_at]
                for a in self.team.accounts.list()]

    def manage(self, action: str, username, password, role, request: gr.Request) -> tuple:
        """add / role / password / remove, for admins: (message, user table, password box)."""
        try:
            admin = self.user(request, Role.ADMIN)
            name = str(username or "").strip()
            accounts = self.team.accounts
            if action == "add":
                accounts.add(name, password, role)
                done = f"Added {name} ({role})."
                if not self.team.login:
                    done += " Restart the app to turn the login on."
            elif action == "role":
                if name == admin.username:
                    raise AccountError("Change your own role from another admin account.")
                accounts.set_role(name, role)
                done = f"{name} is now {role}."
            elif action == "password":
                accounts.set_password(name, password)
                done = f"Changed the password of {name}."
            elif action == "remove":
                if name == admin.username:
                    raise AccountError("You cannot remove your own account.")
                accounts.remove(name)
                done = f"Removed {name}: their logins, conversations and links are gone (their feedback stays, anonymous)."
            else:
                raise guards.BadRequest("Unknown action.")
        except RagError as exc:
            return f"⚠️ {md_text(str(exc))}", gr.update(), gr.update()
        return md_text(done), self.user_rows(request), ""

    # Admin: quality ------------------------------------------------------------------------------

    def quality(self, days, request: gr.Request) -> tuple:
        """(summary markdown, plots, slowest questions rows, most cited outlets rows)."""
        try:
            self.user(request, Role.ADMIN)
            days = int(guards.choice(str(days), [str(d) for d in QUALITY_DAYS], "period"))
            report = quality_report(self.team.database, days)
        except RagError as exc:
            return f"⚠️ {md_text(str(exc))}", None, [], []
        down = "no ratings yet" if report.thumbs_down_rate is None else f"{report.thumbs_down_rate:.0%} thumbs down"
        declined = "" if report.decline_rate is None else f" ({report.decline_rate:.0%})"
        summary = (f"**Last {days} days:** {report.questions} questions, {report.declines} declined{declined}; "
                   f"{report.rated} rated, {down}.")
        slowest = [[md_text(s.question[:200]), f"{s.seconds:.1f}", s.mode, s.user, s.asked_at.strftime("%Y-%m-%d %H:%M")]
                   for s in report.slowest]
        return summary, quality_figure(report), slowest, [[name, count] for name, count in report.outlets]


def _say(text: str) -> dict:
    return {"role": "assistant", "content": f"⚠️ {md_text(text)}"}


def _int(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise guards.BadRequest("Not a valid answer id.") from None
    if isinstance(value, float) and not value.is_integer():
        raise guards.BadRequest("Not a valid answer id.")
    return number
