"""The app with real backends: answers from a real llama.cpp server through the chat API, and a
Chroma server that goes away while the app runs (a clear message, the app keeps serving)."""

import pytest
from gradio_client import Client

from tests.ui.app_server import app_server
from tests.servers.helpers import chroma_server, llama_server

pytestmark = [pytest.mark.servers, pytest.mark.ui, pytest.mark.timeout(400)]


def ask(url: str, question: str, history=None) -> dict:
    return Client(url + "/", verbose=False).predict(question, history or [], 5, api_name="/ask")


def test_chat_api_answers_with_a_real_llm_and_checks_its_citations(app_folders):
    corpus, index = app_folders()
    # A generous time limit: on 2 busy cores SmolLM2 can take longer than the default 30 s, and a
    # fallback to the extractive answer would fail the test, not show a fault. About three sources
    # rather than five: reading the prompt is most of its time.
    with llama_server() as llm, app_server(
        env={"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "sk-local", "RAG_LLM_MODEL": llm.model,
             "RAG_LLM_MAX_TOKENS": "150", "RAG_LLM_TIMEOUT": "180", "RAG_CONTEXT_TOKENS": "1200"},
        corpus_dir=corpus, index_dir=index,
    ) as app:
        answer = ask(app.url, "What did Rubio say about Istanbul?")
        assert answer["mode"] == "smollm2" and answer["error"] is None and answer["text"]
        numbers = [c["number"] for c in answer["citations"]]
        assert numbers == list(range(1, len(numbers) + 1))
        assert all(f"[{n}]" in answer["text"] for n in numbers)
        assert answer["citations"] or answer["supported"] is False or not answer["answerable"]
        declined = ask(app.url, "What did Angela Merkel say about the ceasefire?")
        assert declined["answerable"] is False and declined["citations"] == []


def test_chroma_server_going_down_gives_a_clear_message_and_the_app_keeps_running(tmp_path):
    with chroma_server(tmp_path / "chroma") as chroma:
        env = {"CHROMA_HOST": chroma.host, "CHROMA_PORT": str(chroma.port)}
        with app_server(env=env) as app:
            assert ask(app.url, "Who led the Russian delegation?")["citations"]
            chroma.process.terminate()
            chroma.process.wait(timeout=30)
            failed = ask(app.url, "What did Rubio say about Istanbul?")
            assert failed["error"] and f"{chroma.host}:{chroma.port}" in failed["error"]
            assert "Traceback" not in failed["error"]
            assert app.process.poll() is None  # still serving
            assert ask(app.url, "")["error"]  # and still answering requests
