"""The page: Gradio layout and event wiring. What each event does is in `rag/web/chat.py` and,
for accounts, saved conversations, sharing, feedback, users and quality, `rag/web/team.py`.

The browser tests (tests/ui/test_browser.py) find components by elem_id (chat, question, ...), by
button text and by label: keep those when changing the layout.
"""

from __future__ import annotations

import gradio as gr

from rag.ingest.loading import SUPPORTED
from rag.service import Service
from rag.web.chat import ALL_OUTLETS, ChatHandlers, Conversation
from rag.web.links import ARTICLE, FEED, FEED_HEADERS, LinkHandlers
from rag.web.render import md_text
from rag.web.team import QUALITY_DAYS, Team, TeamHandlers
from rag.web.uploads import UploadLedger

UPLOAD_TYPES = list(SUPPORTED)
EXAMPLES = ["What did Rubio say about Istanbul?", "Who led the Russian delegation?", "What did he warn?"]
# Gradio takes the style and theme when the app is mounted (rag/web/app.py), not in gr.Blocks.
CSS = ".mode-line { font-size: 0.9em; opacity: 0.8; }"
# System fonts: the default theme fetches Google Fonts, which an offline or private install can't reach.
THEME = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def build_ui(service: Service, team: Team, uploads: UploadLedger | None = None) -> gr.Blocks:
    """The chat, corpus, users and quality tabs over `service` and `team`, the conversations
    sidebar, and the `/ask` API endpoints. `uploads` deletes uploaded files once indexed."""
    # Only files Gradio's upload route recorded count as uploads (`demo` is bound below).
    handlers = ChatHandlers(service, uploaded=lambda path: path in demo.upload_file_set,
                            discard=uploads.discard if uploads else None)
    teamwork = TeamHandlers(service, handlers, team)
    fetching = LinkHandlers(service, handlers.corpus_rows, permit=teamwork.fetcher)

    def respond_to(question, session, top_k, outlet, as_of, conversation, turns, event: gr.EventData,
                   request: gr.Request):
        if isinstance(event.target, gr.Button):  # an example question
            question = event.target.value
        yield from teamwork.respond(question, session, top_k, outlet, as_of, conversation, turns, request)

    with gr.Blocks(title="News Q&A") as demo:
        gr.Markdown("## Ask the news corpus\nAnswers quote the articles; click **[n]** to see the passage.")
        gr.Markdown(md_text(service.describe_mode()), elem_classes="mode-line")
        session = gr.State(Conversation())  # server-side; the Chatbot below only displays it
        conversation = gr.State(None)  # the saved conversation's id (None: not saved yet)
        turns = gr.State([])  # the saved turn behind each of the session's messages, for the thumbs
        rated = gr.State(None)  # the turn the feedback box is about
        with gr.Sidebar(label="Conversations", elem_id="sidebar"):
            who = gr.Markdown(elem_id="who")
            new = gr.Button("New conversation", size="sm", elem_id="new-conversation")
            search = gr.Textbox(placeholder="Search your conversations", show_label=False, elem_id="search")
            saved = gr.Radio(choices=[], show_label=False, elem_id="conversations")
            with gr.Accordion("This conversation", open=False):
                title = gr.Textbox(label="Title", elem_id="title")
                with gr.Row():
                    rename = gr.Button("Rename", size="sm")
                    delete = gr.Button("Delete", size="sm", variant="stop", elem_id="delete")
        with gr.Tab("Chat"):
            chatbot = gr.Chatbot(
                label="Conversation", height=520, sanitize_html=True, allow_tags=False,
                latex_delimiters=[], feedback_options=("Like", "Dislike"), buttons=["copy", "copy_all"], elem_id="chat",
            )
            question = gr.Textbox(
                placeholder="Ask a question and press Enter", show_label=False, autofocus=True, elem_id="question"
            )
            with gr.Row():
                example_buttons = [gr.Button(q, size="sm") for q in EXAMPLES]
                clear = gr.Button("Clear conversation", size="sm", variant="stop")
            with gr.Group(visible=False, elem_id="feedback") as feedback_box:
                feedback_head = gr.Markdown()
                comment = gr.Textbox(label="Comment", lines=2, elem_id="feedback-comment")
                correction = gr.Textbox(label="What the answer should have said", lines=3, elem_id="feedback-correction")
                send = gr.Button("Send feedback", size="sm", elem_id="send-feedback")
                sent = gr.Markdown(elem_id="feedback-sent")
            with gr.Accordion("Share an answer", open=False, visible=False, elem_id="share") as share_box:
                answer_choice = gr.Dropdown(choices=[], label="Answer", elem_id="share-answer")
                make_link = gr.Button("Create a read-only link", size="sm", elem_id="make-link")
                link = gr.Markdown(elem_id="link")
                my_links = gr.Dropdown(choices=[], label="Your links", elem_id="my-links")
                revoke = gr.Button("Revoke link", size="sm", variant="stop", elem_id="revoke")
            with gr.Accordion("Settings", open=False):
                top_k = gr.Slider(
                    1, 10, value=service.config.retrieval.top_k, step=1, label="Number of sources to search"
                )
                outlet = gr.Dropdown(handlers.outlets(), value=ALL_OUTLETS, label="Only this outlet")
                as_of = gr.Textbox(
                    value="", placeholder="YYYY-MM-DD (empty: today)", elem_id="as-of",
                    label="Answer as of (no later articles; \"this week\" means the week before)",
                )
        with gr.Tab("Corpus"):
            table = gr.Dataframe(
                handlers.corpus_rows(), headers=["Title", "Outlet", "Author", "Date", "Chunks"],
                interactive=False, wrap=True, column_widths=["46%", "18%", "18%", "10%", "8%"],
                elem_id="corpus-table",
            )
            limit = service.config.web.max_upload_bytes
            limit_text = f"{limit / 1e6:.0f} MB" if limit >= 1e6 else f"{limit / 1e3:.0f} KB"
            with gr.Group(visible=False) as upload_box:  # editors and admins (checked again on upload)
                files = gr.File(
                    label=f"Add articles ({', '.join(UPLOAD_TYPES)}; up to {limit_text} each)",
                    file_count="multiple", file_types=UPLOAD_TYPES, elem_id="upload",
                )
                add = gr.Button("Add to corpus", variant="primary")
            report = gr.Markdown(elem_id="upload-report")
            with gr.Accordion("Add a link or feed", open=False, elem_id="add-link"):
                web_url = gr.Textbox(placeholder="https://...", label="Address", elem_id="web-url")
                web_kind = gr.Radio([ARTICLE, FEED], value=ARTICLE, label="It is", elem_id="web-kind")
                with gr.Row():
                    add_web = gr.Button("Add link or feed", variant="primary")
                    poll_web = gr.Button("Poll feeds now")
                web_report = gr.Markdown(elem_id="web-report")
                feed_table = gr.Dataframe(
                    fetching.feed_rows(), headers=FEED_HEADERS, interactive=False, wrap=True, elem_id="feeds-table",
                )
        with gr.Tab("Users", visible=False) as users_tab:
            users = gr.Dataframe(headers=["User", "Role", "Since"], interactive=False, elem_id="users-table")
            with gr.Row():
                name = gr.Textbox(label="User name", elem_id="user-name")
                password = gr.Textbox(label="Password (new accounts, resets)", type="password", elem_id="user-password")
                role = gr.Dropdown(["reader", "editor", "admin"], value="reader", label="Role", elem_id="user-role")
            with gr.Row():
                actions = {
                    "add": gr.Button("Add account", size="sm", variant="primary"),
                    "role": gr.Button("Set role", size="sm"),
                    "password": gr.Button("Set password", size="sm"),
                    "remove": gr.Button("Remove account", size="sm", variant="stop"),
                }
            managed = gr.Markdown(elem_id="users-report")
        with gr.Tab("Quality", visible=False) as quality_tab:
            with gr.Row():
                days = gr.Radio([str(d) for d in QUALITY_DAYS], value=str(QUALITY_DAYS[1]), label="Days", scale=3)
                refresh = gr.Button("Refresh", size="sm", scale=1)
            summary = gr.Markdown(elem_id="quality-summary")
            plots = gr.Plot(label="Questions, feedback and cited outlets", elem_id="quality-plots")
            slowest = gr.Dataframe(headers=["Slowest questions", "Seconds", "Mode", "User", "Asked (UTC)"],
                                   interactive=False, wrap=True, elem_id="slowest")
            outlets = gr.Dataframe(headers=["Outlet", "Citations"], interactive=False, elem_id="outlets")

        # One event for Enter and the example buttons, so a click while an answer is still
        # streaming is ignored (trigger_mode="once") instead of starting a second answer.
        gr.on(
            triggers=[question.submit, *(button.click for button in example_buttons)],
            fn=respond_to, inputs=[question, session, top_k, outlet, as_of, conversation, turns],
            outputs=[chatbot, question, session, conversation, turns, saved, answer_choice],
            trigger_mode="once", api_visibility="private",
        )
        fresh = [chatbot, session, conversation, turns, saved, title]
        for button in (clear, new):
            button.click(teamwork.new, outputs=fresh, queue=False, api_visibility="private")
        chatbot.clear(teamwork.new, outputs=fresh, queue=False, api_visibility="private")
        search.change(teamwork.search, inputs=search, outputs=saved, api_visibility="private")
        saved.input(teamwork.open, inputs=saved, outputs=[chatbot, session, conversation, turns, title, answer_choice],
                    api_visibility="private")
        rename.click(teamwork.rename, inputs=[title, conversation], outputs=saved, api_visibility="private")
        delete.click(teamwork.delete, inputs=conversation, outputs=[saved, *fresh[:4], title, answer_choice],
                     api_visibility="private")
        chatbot.like(teamwork.rate, inputs=turns, outputs=[feedback_box, feedback_head, rated, comment, correction],
                     api_visibility="private")
        send.click(teamwork.send_feedback, inputs=[rated, comment, correction], outputs=sent, api_visibility="private")
        make_link.click(teamwork.share, inputs=answer_choice, outputs=[link, my_links], api_visibility="private")
        revoke.click(teamwork.revoke, inputs=my_links, outputs=[link, my_links], api_visibility="private")
        # One indexing run at a time: two uploads must not write the index concurrently.
        add.click(
            teamwork.upload, inputs=files, outputs=[report, table, outlet, files],
            concurrency_limit=1, concurrency_id="corpus-writes", api_visibility="private",
        )
        # Fetching and indexing: one at a time, like uploads.
        add_web.click(fetching.add, inputs=[web_url, web_kind], outputs=[web_report, feed_table, web_url, table],
                      concurrency_limit=1, concurrency_id="corpus-writes", api_visibility="private")
        poll_web.click(fetching.poll, outputs=[web_report, feed_table, table], concurrency_limit=1,
                       concurrency_id="corpus-writes", api_visibility="private")
        for action, button in actions.items():
            button.click(
                _manage(teamwork, action), inputs=[name, password, role], outputs=[managed, users, password],
                api_visibility="private",
            )
        for trigger in (refresh.click, days.change):
            trigger(teamwork.quality, inputs=days, outputs=[summary, plots, slowest, outlets], api_visibility="private")
        demo.load(teamwork.page, outputs=[who, saved, upload_box, users_tab, quality_tab, share_box],
                  api_visibility="private")
        demo.load(teamwork.user_rows, outputs=users, api_visibility="private")
        demo.load(teamwork.links, outputs=my_links, api_visibility="private")
        gr.api(teamwork.ask, api_name="ask")
        gr.api(teamwork.ask_saved, api_name="ask_saved")
    return demo


def _manage(teamwork: TeamHandlers, action: str):
    """The handler of one account button (Gradio passes the request by the parameter's type)."""

    def manage(username, password, role, request: gr.Request):
        return teamwork.manage(action, username, password, role, request)

    return manage
