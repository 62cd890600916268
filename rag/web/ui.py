"""The page: Gradio layout and event wiring. What each event does is in `rag/web/chat.py`.

The browser tests (tests/ui/test_browser.py) find components by elem_id (chat, question, ...), by
button text and by label: keep those when changing the layout.
"""

from __future__ import annotations

import gradio as gr

from rag.ingest.loading import SUPPORTED
from rag.service import Service
from rag.web.chat import ALL_OUTLETS, ChatHandlers, Conversation
from rag.web.render import md_text

UPLOAD_TYPES = list(SUPPORTED)
EXAMPLES = ["What did Rubio say about Istanbul?", "Who led the Russian delegation?", "What did he warn?"]
# Gradio takes the style and theme when the app is mounted (rag/web/app.py), not in gr.Blocks.
CSS = ".mode-line { font-size: 0.9em; opacity: 0.8; }"
# System fonts: the default theme fetches Google Fonts, which an offline or private install can't reach.
THEME = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def build_ui(service: Service) -> gr.Blocks:
    """The chat and corpus tabs over `service`, and the `/ask` API endpoint."""
    # Only files Gradio's upload route recorded count as uploads (`demo` is bound below).
    handlers = ChatHandlers(service, uploaded=lambda path: path in demo.upload_file_set)

    def respond_to(question, conversation, top_k, outlet, as_of, event: gr.EventData):
        if isinstance(event.target, gr.Button):  # an example question
            question = event.target.value
        yield from handlers.respond(question, conversation, top_k, outlet, as_of)

    with gr.Blocks(title="News Q&A") as demo:
        gr.Markdown("## Ask the news corpus\nAnswers quote the articles; click **[n]** to see the passage.")
        gr.Markdown(md_text(service.describe_mode()), elem_classes="mode-line")
        conversation = gr.State(Conversation())  # server-side; the Chatbot below only displays it
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
            fn=respond_to, inputs=[question, conversation, top_k, outlet, as_of],
            outputs=[chatbot, question, conversation], trigger_mode="once", api_visibility="private",
        )
        clear.click(lambda: ([], Conversation(), ""), outputs=[chatbot, conversation, question], queue=False,
                    api_visibility="private")
        chatbot.clear(lambda: Conversation(), outputs=conversation, queue=False, api_visibility="private")
        # One indexing run at a time: two uploads must not write the index concurrently.
        add.click(
            handlers.upload, inputs=files, outputs=[report, table, outlet, files],
            concurrency_limit=1, api_visibility="private",
        )
        gr.api(handlers.ask, api_name="ask")
    return demo
