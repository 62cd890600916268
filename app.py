"""Web chat over the news corpus: `python app.py` (or `make run`).

A thin layer over `rag.service.Service`: retrieval, answering and citation checking all live
in `rag`; this file only renders, routes and queues. Settings come from the environment
(see rag/config.py): RAG_HOST, RAG_PORT, RAG_AUTH="user:password" (turns on a login page),
RAG_MAX_UPLOAD_BYTES, RAG_MAX_QUESTION_CHARS, RAG_CORPUS_DIR, RAG_INDEX_DIR.

Routes: /          the chat (Gradio)
        /passage/{doc_id}?start=S&end=E   the cleaned article with the cited span highlighted
        /health    "ok" once the index is loaded (for scripts and tests)
API:    gradio_client.Client(url).predict("question", [["q", "a"], ...], 5, api_name="/ask")
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before the heavy imports, so "Ready after" is the real start-up time

import logging  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import sys  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402
from pathlib import Path  # noqa: E402

# Before gradio is imported: no version check or telemetry calls (the machines are offline).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse  # noqa: E402
from gradio.utils import get_upload_folder  # noqa: E402

from rag.config import PROJECT_ROOT  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.ingest.indexer import serving  # noqa: E402
from rag.ingest.loading import SUPPORTED  # noqa: E402
from rag.service import Service, make_progress_bar  # noqa: E402
from rag.types import Answer  # noqa: E402
from rag.web.render import md_text, passage_csp, passage_page, render_answer, render_sources  # noqa: E402
from rag.web import guards  # noqa: E402

log = logging.getLogger("rag.app")
ALL = "All outlets"
UPLOAD_TYPES = list(SUPPORTED)
EXAMPLES = ["What did Rubio say about Istanbul?", "Who led the Russian delegation?", "What did he warn?"]
CSS = ".mode-line { font-size: 0.9em; opacity: 0.8; }"
# System fonts: the default theme fetches Google Fonts, which an offline or private install can't reach.
THEME = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def say(text: str, **metadata) -> dict:
    return {"role": "assistant", "content": text, **({"metadata": metadata} if metadata else {})}


def build_ui(p: Service) -> gr.Blocks:
    def outlets() -> list[str]:
        return [ALL] + sorted({s.publisher for s in p.sources() if s.publisher})

    def corpus_rows() -> list[list]:
        return [[s.title, s.publisher or "", s.author or "", s.published or "", s.chunks] for s in p.sources()]

    def respond(question, chat, pairs, top_k, outlet):
        """Stream one answer into the chat. `pairs` holds the raw (question, answer) texts the
        service needs for follow-ups, so the rendered links and source boxes never leak into it."""
        chat = list(chat) if isinstance(chat, list) else []
        pairs = list(pairs or [])
        try:
            question = guards.question_text(question)
            top_k = guards.top_k(top_k, p.config.retrieval.top_k)
            outlet = guards.choice(outlet if outlet not in (None, "") else ALL, outlets(), "outlet")
        except guards.BadRequest as exc:
            yield chat + [say(f"⚠️ {md_text(str(exc))}")], "", pairs
            return
        if question.strip():  # a 100 KB paste is rejected below; echo only its start
            shown = question if len(question) <= 500 else question[:500] + " …"
            chat.append({"role": "user", "content": md_text(shown)})
        yield chat, "", pairs
        publisher = None if outlet == ALL else outlet
        answer, partial = None, ""
        try:
            for event in p.stream(question, history=pairs, top_k=top_k, publisher=publisher):
                if isinstance(event, Answer):
                    answer = event
                else:
                    partial += event
                    yield chat + [say(md_text(partial, emphasis=True))], "", pairs
        except RagError as exc:  # the message is written for the user
            yield chat + [say(f"⚠️ {md_text(str(exc))}")], "", pairs
            return
        except Exception:
            log.exception("answering failed")
            oops = "⚠️ Something went wrong while answering; the details are in the server log."
            yield chat + [say(oops)], "", pairs
            return
        # The final Answer replaces the streamed text: markers were checked and renumbered.
        text = render_answer(answer.text, answer.citations) if answer.answerable else md_text(answer.text)
        if answer.notice:
            text += f"\n\n*⚠️ {md_text(answer.notice)}*"
        chat.append(say(text))
        if answer.citations:
            title = f"Sources ({len(answer.citations)})"
            chat.append(say(render_sources(answer.citations, p.config.web.app_url), title=title, status="done"))
        pairs.append([question, answer.text])
        yield chat, "", pairs

    def respond_to(question, chat, pairs, top_k, outlet, event: gr.EventData):
        if isinstance(event.target, gr.Button):  # an example question
            question = event.target.value
        yield from respond(question, chat, pairs, top_k, outlet)

    def refused(message: str) -> dict:
        return {
            "text": message, "citations": [], "answerable": False, "mode": p.mode,
            "notice": None, "supported": True, "error": message,
        }

    def ask(question: str, history: list | str | None = None, top_k: int | None = None) -> dict:
        """Answer a question; history is a JSON list of [user, assistant] pairs from earlier turns.
        Returns text (markdown with [n] markers), citations, answerable, mode, notice, and `error`
        (a message for the user, when the question was rejected)."""
        try:
            question = guards.question_text(question)
            pairs = guards.history_pairs(history)
            top_k = guards.top_k(top_k, p.config.retrieval.top_k)
            answer = p.ask(question, history=pairs, top_k=top_k)
        except RagError as exc:
            return refused(str(exc))
        out = answer.to_dict()
        return {k: out[k] for k in ("text", "citations", "answerable", "mode", "notice", "supported")} | {"error": None}

    def upload(files, progress=gr.Progress()):
        if not files:
            return "Choose one or more files first.", gr.update(), gr.update(), gr.update()
        try:
            paths = guards.uploaded_paths(files, get_upload_folder())
            # add_files checks every file fully in a staging folder before it enters the corpus.
            summary = p.add_files(paths, progress=lambda done, total: progress((done, total), desc="Embedding"))
        except RagError as exc:
            return f"⚠️ {md_text(str(exc))}", gr.update(), gr.update(), gr.update()
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
        cleared = gr.update(value=None) if changed else gr.update()
        return "\n\n".join(parts), corpus_rows(), gr.update(choices=outlets()), cleared

    with gr.Blocks(title="News Q&A") as demo:
        gr.Markdown("## Ask the news corpus\nAnswers quote the articles; click **[n]** to see the passage.")
        gr.Markdown(md_text(p.describe_mode()), elem_classes="mode-line")
        pairs = gr.State([])
        with gr.Tab("Chat"):
            chatbot = gr.Chatbot(
                label="Conversation", height=520, sanitize_html=True, allow_tags=False,
                latex_delimiters=[], feedback_options=None, buttons=["copy", "copy_all"], elem_id="chat",
            )
            question = gr.Textbox(
                placeholder="Ask a question and press Enter", show_label=False, autofocus=True, elem_id="question"
            )
            with gr.Row():
                example_buttons = [gr.Button(q, size="sm") for q in EXAMPLES]
                clear = gr.Button("Clear conversation", size="sm", variant="stop")
            with gr.Accordion("Settings", open=False):
                top_k = gr.Slider(1, 10, value=p.config.retrieval.top_k, step=1, label="Number of sources to search")
                outlet = gr.Dropdown(outlets(), value=ALL, label="Only this outlet")
        with gr.Tab("Corpus"):
            table = gr.Dataframe(
                corpus_rows(), headers=["Title", "Outlet", "Author", "Date", "Chunks"],
                interactive=False, wrap=True, column_widths=["46%", "18%", "18%", "10%", "8%"],
                elem_id="corpus-table",
            )
            limit = p.config.web.max_upload_bytes
            limit_text = f"{limit / 1e6:.0f} MB" if limit >= 1e6 else f"{limit / 1e3:.0f} KB"
            files = gr.File(
                label=f"Add articles ({', '.join(UPLOAD_TYPES)}; up to {limit_text} each)",
                file_count="multiple", file_types=UPLOAD_TYPES, elem_id="upload",
            )
            add = gr.Button("Add to corpus", variant="primary")
            report = gr.Markdown(elem_id="upload-report")

        # One event for Enter and the example buttons, so a click while an answer is still
        # streaming is ignored (trigger_mode="once") instead of starting a second answer.
        gr.on(
            triggers=[question.submit, *(button.click for button in example_buttons)],
            fn=respond_to, inputs=[question, chatbot, pairs, top_k, outlet], outputs=[chatbot, question, pairs],
            trigger_mode="once", api_visibility="private",
        )
        clear.click(lambda: ([], [], ""), outputs=[chatbot, pairs, question], queue=False, api_visibility="private")
        chatbot.clear(lambda: [], outputs=pairs, queue=False, api_visibility="private")
        # One indexing run at a time: two uploads must not write the index concurrently.
        add.click(
            upload, inputs=files, outputs=[report, table, outlet, files], concurrency_limit=1, api_visibility="private"
        )
        gr.api(ask, api_name="ask")
    return demo


def logged_in(gradio_app, request: Request) -> bool:
    """Gradio's login sets a cookie it maps to a user; /passage honours the same login."""
    cookie = f"access-token-{gradio_app.cookie_id}"
    token = request.cookies.get(cookie) or request.cookies.get(f"access-token-unsecure-{gradio_app.cookie_id}")
    return token in gradio_app.tokens


def blocked_paths(config, upload_folder: str) -> list[str]:
    """Server folders Gradio must never read or serve, even if its own checks were bypassed: the
    project (prompts, .env), the corpus and the index. A folder that holds Gradio's upload folder
    cannot be blocked (uploads would fail), so it is left to the upload-folder check."""
    upload = Path(upload_folder).resolve()
    folders = {PROJECT_ROOT.resolve(), config.paths.corpus_dir.resolve(), config.paths.index_dir.resolve()}
    return sorted(str(f) for f in folders if not upload.is_relative_to(f))


def build_app(p: Service) -> FastAPI:
    config = p.config
    auth = config.web.auth_pair
    throttle = guards.LoginThrottle()

    @asynccontextmanager
    async def lifespan(_app):
        print(f"Ready after {time.perf_counter() - STARTED:.1f} s: open {config.web.app_url}", flush=True)
        yield

    # FastAPI's /docs and /redoc load their scripts from a CDN (useless offline) and would be
    # public under RAG_AUTH; the schema is served below, behind the login.
    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    gradio_app = None  # set after mounting; the routes below read it at request time

    @app.middleware("http")
    async def slow_down_password_guessing(request: Request, call_next):
        if not (auth and request.method == "POST" and request.url.path.rstrip("/").endswith("/login")):
            return await call_next(request)
        address = request.client.host if request.client else "unknown"
        wait = throttle.wait_seconds(address)
        if wait > 0:
            return JSONResponse(
                {"detail": f"Too many failed logins; try again in {wait:.0f} s."},
                status_code=429, headers={"Retry-After": str(int(wait) + 1)},
            )
        response = await call_next(request)
        if response.status_code == 200:
            throttle.succeeded(address)
        else:
            throttle.failed(address)
        return response

    @app.get("/health", response_class=PlainTextResponse)
    def health() -> str:
        return "ok"

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request):
        if auth and not logged_in(gradio_app, request):
            return JSONResponse({"detail": "Not authenticated"}, status_code=401)
        return JSONResponse(app.openapi())

    @app.get("/passage/{doc_id:path}", response_class=HTMLResponse)
    def passage(doc_id: str, request: Request, start: int | None = None, end: int | None = None):
        if auth and not logged_in(gradio_app, request):
            return RedirectResponse("/")
        doc = p.document(doc_id)
        if doc is None:
            return HTMLResponse("<!doctype html><title>Not found</title><p>No such document.</p>", status_code=404)
        nonce = secrets.token_urlsafe(16)
        page = passage_page(doc, start, end, nonce)
        return HTMLResponse(page, headers={"Content-Security-Policy": passage_csp(nonce)})

    demo = build_ui(p)
    # Concurrent users are queued; several answers may run at once (the service is read-only
    # while answering), uploads are limited to one at a time in build_ui.
    demo.queue(default_concurrency_limit=4)
    # Our routes are registered first, so they win over the Gradio app mounted at "/".
    upload_folder = get_upload_folder()
    gr.mount_gradio_app(
        app, demo, path="/", auth=auth, auth_message="Log in with the RAG_AUTH credentials.",
        max_file_size=config.web.max_upload_bytes, css=CSS, footer_links=["api"], theme=THEME,
        allowed_paths=[], blocked_paths=blocked_paths(config, upload_folder),
    )
    # Gradio checks that every file named in a request was uploaded by a client (and not, say,
    # /etc/passwd) only once the Blocks counts as launched, which `launch()` sets and
    # `mount_gradio_app` does not: without this, a hand-made queue request makes Gradio copy any
    # server file into its cache and serve it.
    demo.has_launched = True
    gradio_app = app.state.gradio = app.routes[-1].app
    return app


class Server(uvicorn.Server):
    def handle_exit(self, sig, frame):
        # Browsers and clients hold Gradio's heartbeat streams open; end them first, or
        # Ctrl-C / SIGTERM waits for the graceful-shutdown timeout and then prints tracebacks.
        self.config.app.state.gradio.stop_event.set()
        super().handle_exit(sig, frame)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        p = Service()
    except RagError as exc:  # a bad setting: one line, no traceback
        sys.exit(f"error: {exc}")
    print(f"Service: {p.describe_mode()}", flush=True)
    try:
        has_index = p.store.exists()
    except RagError as exc:  # e.g. the Chroma server is down: say where, no traceback
        sys.exit(str(exc))
    if not has_index:
        print(f"No index yet: building it from {p.config.paths.corpus_dir} ...", flush=True)
        update, close = make_progress_bar()
        try:
            summary = p.index(progress=update)
        except RagError as exc:
            sys.exit(f"Cannot build the index: {exc}")
        finally:
            close()
        print("\n".join(summary.lines()), flush=True)
    try:
        p.search_index  # load and warm up now, so the first question is fast
    except RagError as exc:
        sys.exit(str(exc))
    print(f"Index loaded: {len(p.sources())} documents. Starting the server ...", flush=True)
    app = build_app(p)
    config = uvicorn.Config(app, host=p.config.web.host, port=p.config.web.port, log_level="warning", timeout_graceful_shutdown=5)
    with serving(p.config):
        Server(config).run()


if __name__ == "__main__":
    main()
