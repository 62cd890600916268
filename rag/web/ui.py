"""The page: Gradio layout and event wiring. What each event does is in `rag/web/chat.py` and,
for accounts, saved conversations, sharing, feedback, users and quality, `rag/web/team.py`.

The browser tests (tests/ui/test_browser.py) find components by elem_id (chat, question, ...), by
button text and by label: keep those when changing the layout.
"""

from __future__ import annotations

import gradio as gr

from rag.follows.api import Follows
from rag.ingest.loading import SUPPORTED
from rag.service import Service
from rag.web.chat import ALL_OUTLETS, ChatHandlers, Conversation
from rag.web.follows import CSS as FOLLOW_CSS
from rag.web.follows import FollowPanel
from rag.web.links import ARTICLE, FEED, FEED_HEADERS, FEEDS_REFRESH_SECONDS, LinkHandlers
from rag.web.render import md_text
from rag.web.team import QUALITY_DAYS, Team, TeamHandlers
from rag.web.tokens import TokenHandlers, token_panel
from rag.web.uploads import UploadLedger

UPLOAD_TYPES = list(SUPPORTED)
EXAMPLES = ["What did Rubio say about Istanbul?", "Who led the Russian delegation?", "What did he warn?"]
# Gradio takes the style and theme when the app is mounted (rag/web/app.py), not in gr.Blocks.
CSS = FOLLOW_CSS + """
.mode-line { font-size: 0.9em; opacity: 0.8; }
/* The chat's label sits above the messages, not floating over the answer scrolled under it. */
#chat .wrapper > label[data-testid="block-label"] { position: static; }
/* Narrow screens: wide tables scroll sideways instead of squeezing a column until its heading
   breaks letter by letter ("D a t e") and "10" splits over two lines. */
@media (max-width: 640px) {
  #corpus-table .table-wrap, #slowest .table-wrap { min-width: 720px; }
  #feeds-table .table-wrap { min-width: 760px; }
}
"""
# Narrow screens: beyond this width the sidebar opens on load; below it, it would cover the page.
NARROW_PX = 768
# After an address is added, its box empties only if it still holds that address: a fetch can take
# a while, and what was typed meanwhile must stay.
CLEAR_ADDED_JS = "(now, added) => (added && (now || '').trim() === added.trim() ? '' : now)"
# Runs once the page (logged in) has loaded: the sidebar opens on wide screens only; a safe
# `next` (a path on this site, from a share link's login) is opened; opened sources scroll into view.
PAGE_JS = """
() => {
  const narrow = () => window.matchMedia("(max-width: %(narrow)dpx)").matches;
  const sidebar = document.querySelector("#sidebar");
  const toggle = (open) => {
    if (sidebar && sidebar.classList.contains("open") !== open) sidebar.querySelector(".toggle-button").click();
  };
  window.ragCloseSidebarIfNarrow = () => { if (narrow()) toggle(false); };
  toggle(!narrow());
  const params = new URLSearchParams(window.location.search);
  const next = params.get("next");
  if (next !== null) {
    window.history.replaceState(null, "", window.location.pathname);
    const path = next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\\\");
    const target = path ? new URL(next, window.location.origin) : null;
    if (target && target.origin === window.location.origin && target.pathname !== "/") {
      window.location.replace(target.pathname + target.search + target.hash);
    }
  }
  document.addEventListener("click", (event) => {
    const title = event.target.closest("#chat .thought-group > .title");
    if (!title) return;
    // Once the box has opened (its sources drawn, a few lines at least), bring them, not just
    // its title, into view.
    const boxes = () => [...document.querySelectorAll("#chat .thought-group")];
    const index = boxes().indexOf(title.parentElement), closed = title.parentElement.offsetHeight;
    let tries = 30;
    const check = () => {
      const box = boxes()[index];
      if (box && box.offsetHeight > closed + 40) box.scrollIntoView({block: "nearest"});  // its sources are in
      else if (box && --tries > 0) setTimeout(check, 100);
    };
    setTimeout(check, 100);
  }, true);
}
""" % {"narrow": NARROW_PX}
# On a narrow screen, choosing in the sidebar closes it, so that the chat shows (passes the inputs on).
CLOSE_SIDEBAR_JS = "(...inputs) => { window.ragCloseSidebarIfNarrow && window.ragCloseSidebarIfNarrow(); return inputs; }"
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
    following = FollowPanel(teamwork, Follows(service, team.database))

    def respond_to(question, session, top_k, outlet, as_of, conversation, turns, event: gr.EventData,
                   request: gr.Request):
        if isinstance(event.target, gr.Button):  # an example question: what is typed in the box stays
            for chat, _, *rest in teamwork.respond(event.target.value, session, top_k, outlet, as_of, conversation,
                                                    turns, request):
                yield chat, gr.update(), *rest
            return
        yield from teamwork.respond(question, session, top_k, outlet, as_of, conversation, turns, request)

    with gr.Blocks(title="News Q&A") as demo:
        gr.Markdown("## Ask the news corpus\nAnswers quote the articles; click **[n]** to see the passage.")
        gr.Markdown(md_text(service.describe_mode()), elem_classes="mode-line")
        session = gr.State(Conversation())  # server-side; the Chatbot below only displays it
        conversation = gr.State(None)  # the saved conversation's id (None: not saved yet)
        turns = gr.State([])  # the saved turn behind each of the session's messages, for the thumbs
        rated = gr.State(None)  # the turn the feedback box is about
        # Closed until the page's script opens it on a wide screen (PAGE_JS): on a phone it would cover the page.
        with gr.Sidebar(label="Conversations", open=False, elem_id="sidebar"):
            who = gr.Markdown(elem_id="who")
            new = gr.Button("New conversation", size="sm", elem_id="new-conversation")
            search = gr.Textbox(placeholder="Search your conversations", show_label=False, elem_id="search")
            saved = gr.Radio(choices=[], show_label=False, elem_id="conversations")
            with gr.Accordion("This conversation", open=False):
                title = gr.Textbox(label="Title", elem_id="title")
                with gr.Row():
                    rename = gr.Button("Rename", size="sm")
                    delete = gr.Button("Delete", size="sm", variant="stop", elem_id="delete")
                with gr.Column(visible=False, elem_id="confirm-delete") as confirm_box:
                    confirm_text = gr.Markdown()
                    with gr.Row():
                        confirm = gr.Button("Yes, delete it", size="sm", variant="stop")
                        cancel = gr.Button("Keep it", size="sm")
                deleted = gr.Markdown(elem_id="delete-report")
            following.sidebar()
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
            following.chat()
            # A Column: Gradio's Group writes its elem_id on two nested elements (two id="feedback").
            with gr.Column(visible=False, variant="panel", elem_id="feedback") as feedback_box:
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
            # Personal tokens need an account, so only an app with logins shows them.
            token_panel(TokenHandlers(team.tokens, teamwork.user), demo, visible=team.login and team.tokens is not None)
        with gr.Tab("Corpus"):
            table = gr.Dataframe(
                handlers.corpus_rows(), headers=["Title", "Outlet", "Author", "Date", "Chunks"],
                interactive=False, wrap=True, column_widths=["40%", "17%", "17%", "15%", "11%"],
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
                with gr.Column(visible=False) as web_controls:  # editors and admins (checked again on a click)
                    web_url = gr.Textbox(placeholder="https://...", label="Address", elem_id="web-url")
                    web_added = gr.Textbox(visible=False)  # the address last added, for CLEAR_ADDED_JS
                    web_kind = gr.Radio([ARTICLE, FEED], value=ARTICLE, label="It is", elem_id="web-kind")
                    with gr.Row():
                        add_web = gr.Button("Add link or feed", variant="primary")
                        poll_web = gr.Button("Poll feeds now")
                web_report = gr.Markdown(elem_id="web-report")
                feed_rows, feed_key = fetching.feeds_shown()
                feed_table = gr.Dataframe(
                    feed_rows, headers=FEED_HEADERS, interactive=False, wrap=True, elem_id="feeds-table",
                )
                with gr.Row():
                    gone_url = gr.Textbox(placeholder="a feed's address, or the site's you added", label="Remove feed",
                                          elem_id="remove-feed-url", scale=3)
                    gone_articles = gr.Checkbox(label="also delete its articles", elem_id="remove-feed-articles")
                    remove_web = gr.Button("Remove feed", size="sm", elem_id="remove-feed")
                shown_feeds = gr.State(feed_key)
                feeds_timer = gr.Timer(FEEDS_REFRESH_SECONDS)
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
        ).then(teamwork.title_of, inputs=conversation, outputs=title, api_visibility="private")
        following.wire(demo, session, outlet)
        fresh = [chatbot, session, conversation, turns, saved, title]
        clear.click(teamwork.new, outputs=fresh, queue=False, api_visibility="private")
        new.click(teamwork.new, outputs=fresh, queue=False, js=CLOSE_SIDEBAR_JS, api_visibility="private")
        chatbot.clear(teamwork.new, outputs=fresh, queue=False, api_visibility="private")
        search.change(teamwork.search, inputs=search, outputs=saved, api_visibility="private")
        saved.input(teamwork.open, inputs=saved, outputs=[chatbot, session, conversation, turns, title, answer_choice],
                    js=CLOSE_SIDEBAR_JS, api_visibility="private")
        rename.click(teamwork.rename, inputs=[title, conversation], outputs=saved, api_visibility="private")
        # Deleting asks first, in the page (a browser dialog can be blocked), then says what went.
        delete.click(teamwork.ask_delete, inputs=conversation, outputs=[confirm_box, confirm_text, deleted],
                     api_visibility="private")
        cancel.click(lambda: (gr.update(visible=False), ""), outputs=[confirm_box, deleted], queue=False,
                     api_visibility="private")
        # A question about one conversation must not stay up once another is open.
        for switched in (new.click, clear.click, saved.input, chatbot.clear):
            switched(lambda: (gr.update(visible=False), ""), outputs=[confirm_box, deleted], queue=False,
                     api_visibility="private")
        confirm.click(teamwork.delete, inputs=conversation,
                      outputs=[saved, *fresh[:4], title, answer_choice, confirm_box, deleted], api_visibility="private")
        chatbot.like(teamwork.rate, inputs=turns,
                     outputs=[feedback_box, feedback_head, rated, comment, correction, sent], api_visibility="private")
        send.click(teamwork.send_feedback, inputs=[rated, comment, correction], outputs=sent, api_visibility="private")
        make_link.click(teamwork.share, inputs=answer_choice, outputs=[link, my_links], api_visibility="private")
        revoke.click(teamwork.revoke, inputs=my_links, outputs=[link, my_links], api_visibility="private")
        # One indexing run at a time: two uploads must not write the index concurrently.
        add.click(
            teamwork.upload, inputs=files, outputs=[report, table, outlet, files],
            concurrency_limit=1, concurrency_id="corpus-writes", api_visibility="private",
        )
        # Fetching and indexing: one at a time, like uploads.
        # Their progress streams into the report: the table and the address box keep their looks.
        add_web.click(fetching.add, inputs=[web_url, web_kind], outputs=[web_report, feed_table, web_added, table],
                      concurrency_limit=1, concurrency_id="corpus-writes", api_visibility="private",
                      show_progress_on=[web_report]
                      ).then(None, inputs=[web_url, web_added], outputs=web_url, js=CLEAR_ADDED_JS)
        poll_web.click(fetching.poll, outputs=[web_report, feed_table, table], concurrency_limit=1,
                       concurrency_id="corpus-writes", api_visibility="private", show_progress_on=[web_report])
        remove_web.click(fetching.remove, inputs=[gone_url, gone_articles], outputs=[web_report, feed_table, gone_url, table],
                         concurrency_limit=1, concurrency_id="corpus-writes", api_visibility="private")
        # The schedule's polls (and other processes') show up in the feed list without a reload.
        feeds_timer.tick(fetching.refresh, inputs=shown_feeds, outputs=[feed_table, shown_feeds],
                         api_visibility="private", show_progress="hidden")
        for action, button in actions.items():
            button.click(
                _manage(teamwork, action), inputs=[name, password, role], outputs=[managed, users, password],
                api_visibility="private",
            )
        # Filled each time the tab opens, so the figures are there without a Refresh.
        for trigger in (refresh.click, days.change, quality_tab.select):
            trigger(teamwork.quality, inputs=days, outputs=[summary, plots, slowest, outlets], api_visibility="private")
        demo.load(None, js=PAGE_JS)
        demo.load(teamwork.page, outputs=[who, saved, upload_box, users_tab, quality_tab, share_box, web_controls, web_report],
                  api_visibility="private")
        demo.load(teamwork.user_rows, outputs=users, api_visibility="private")
        demo.load(teamwork.links, outputs=my_links, api_visibility="private")
        demo.load(fetching.feeds_shown, outputs=[feed_table, shown_feeds], api_visibility="private")
        gr.api(teamwork.ask, api_name="ask")
        gr.api(teamwork.ask_saved, api_name="ask_saved")
    return demo


def _manage(teamwork: TeamHandlers, action: str):
    """The handler of one account button (Gradio passes the request by the parameter's type)."""

    def manage(username, password, role, request: gr.Request):
        return teamwork.manage(action, username, password, role, request)

    return manage
