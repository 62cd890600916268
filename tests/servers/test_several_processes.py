"""Several processes, one index on a `chroma run` server: two app processes (`python app.py`) keep
answering while a `python -m rag index` run adds an article, and each then answers it, as it does
one a third process uploads (`Service.add_files`), and after a `--rebuild` has replaced the
collections they read, without a restart. All of them on one machine, sharing the local index
folder (the SQLite file, the lock and the reload marker)."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before gradio_client imports huggingface_hub
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest  # noqa: E402

from rag.config import Config  # noqa: E402
from rag.service import Service  # noqa: E402
from rag.web.render import passage_path  # noqa: E402
from tests.servers.helpers import chroma_server  # noqa: E402
from tests.ui.app_server import ROOT, app_server  # noqa: E402

pytestmark = pytest.mark.servers

FERRY = ("Island Ferry Timetable Changes\n\nThe harbour authority approved a new ferry timetable on Monday. "
         "“We listened to the islanders,” said the harbour master, Ines Varga.\n")
FERRY_QUESTION = "What did the harbour master say about the ferry timetable?"
LIGHTHOUSE = ("Lighthouse Keeper Retires\n\nThe last keeper of the Skerry lighthouse, Tomas Lind, retired on Friday "
              "after thirty-one years. “The lamp never went dark on my watch,” Lind said.\n")
LIGHTHOUSE_QUESTION = "What did the lighthouse keeper Tomas Lind say when he retired?"
KNOWN_QUESTION = "Who led the Russian delegation?"


def ask(client, question: str) -> dict:
    return client.predict(question, [], 5, api_name="/ask")


def assert_cites(app, client, question: str, doc_id: str) -> None:
    reply = ask(client, question)
    assert reply["error"] is None and reply["answerable"], reply
    cited = reply["citations"][0]
    assert cited["doc_id"] == doc_id
    with urllib.request.urlopen(app.url + passage_path(doc_id, cited["start"], cited["end"]), timeout=10) as page:
        assert page.status == 200  # the passage view reads the new article too


def test_two_apps_answer_what_other_processes_indexed(corpus_copy, tmp_path):
    from gradio_client import Client

    with chroma_server(tmp_path / "chroma-data") as server:
        env = {"CHROMA_HOST": server.host, "CHROMA_PORT": str(server.port)}
        index_dir = tmp_path / "local"
        command = [sys.executable, "-m", "rag", "index", "--corpus", str(corpus_copy), "--index", str(index_dir)]
        cli_env = {**os.environ, **env}
        built = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, env=cli_env)
        assert built.returncode == 0, built.stderr

        with app_server(env=env, corpus_dir=corpus_copy, index_dir=index_dir) as one, \
                app_server(env=env, corpus_dir=corpus_copy, index_dir=index_dir) as two:
            apps = [(one, Client(one.url + "/", verbose=False)), (two, Client(two.url + "/", verbose=False))]
            for _, client in apps:
                assert ask(client, FERRY_QUESTION)["answerable"] is False

            (corpus_copy / "ferry.txt").write_text(FERRY, encoding="utf-8")
            indexing = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=cli_env)
            asked = 0
            while indexing.poll() is None or not asked:  # both apps keep answering while it writes
                for _, client in apps:
                    reply = ask(client, KNOWN_QUESTION)
                    assert reply["error"] is None and reply["answerable"] and "Medinsky" in reply["text"], reply
                    asked += 1
            assert indexing.wait(timeout=300) == 0, indexing.stderr.read()
            for app, client in apps:
                assert_cites(app, client, FERRY_QUESTION, "ferry")

            upload = tmp_path / "upload" / "lighthouse.txt"
            upload.parent.mkdir()
            upload.write_text(LIGHTHOUSE, encoding="utf-8")
            config = Config.from_env().with_(corpus_dir=corpus_copy, index_dir=index_dir,
                                             chroma_host=server.host, chroma_port=server.port)
            assert Service(config).add_files([upload]).added == ["lighthouse"]
            for app, client in apps:
                assert_cites(app, client, LIGHTHOUSE_QUESTION, "lighthouse")

            # The old collections and SQLite file are deleted: only an app that reopens the index answers.
            rebuilt = subprocess.run([*command, "--rebuild"], capture_output=True, text=True, timeout=300, cwd=ROOT, env=cli_env)
            assert rebuilt.returncode == 0, rebuilt.stderr
            assert {p.name for p in index_dir.glob("*.sparse.sqlite3")} == {"news_1.sparse.sqlite3"}
            for app, client in apps:
                assert_cites(app, client, LIGHTHOUSE_QUESTION, "lighthouse")
                assert_cites(app, client, FERRY_QUESTION, "ferry")
