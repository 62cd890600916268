"""The command line's output for programs and people: `--json` errors as JSON, `--jsonl`
listings, citation links that open (no dead app link when no app serves), `rag show`; and the
package installed elsewhere: the `rag` script and `from rag import ask` outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.ui.app_server import free_port


@pytest.fixture
def rag(corpus_copy, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "CHROMA_", "OPENAI_"))}
    env.update(RAG_EMBED_MODEL="fake:hashing", RAG_NER="none", RAG_CORPUS_DIR=str(corpus_copy),
               RAG_INDEX_DIR=str(tmp_path / "index"), RAG_PORT=str(free_port()), HF_HUB_OFFLINE="1")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, cwd=ROOT, env=env,
                              timeout=300)

    assert run("index").returncode == 0
    return run


def test_json_errors_and_jsonl_listings(rag):
    refused = rag("ask", "--json", "x" * 5000)
    assert refused.returncode == 1
    assert set(json.loads(refused.stdout)) == {"error"} and "characters" in json.loads(refused.stdout)["error"]
    missing = rag("show", "--json", "no-such-document")
    assert missing.returncode == 1 and json.loads(missing.stdout) == {"error": "No document no-such-document (see `rag sources`)"}

    lines = rag("sources", "--jsonl").stdout.splitlines()
    assert len(lines) == 5 and all(json.loads(line)["doc_id"] for line in lines)
    assert [row["doc_id"] for row in json.loads(rag("sources", "--json").stdout)] == [json.loads(x)["doc_id"] for x in lines]
    assert rag("feeds", "list", "--jsonl").stdout == ""
    assert json.loads(rag("feeds", "list", "--json").stdout) == []


def test_citation_links_open_when_no_app_serves(rag):
    asked = rag("ask", "Did Putin go to the Istanbul talks?")
    assert asked.returncode == 0, asked.stderr
    assert "/passage/" not in asked.stdout  # no app answers on RAG_PORT: its links would not open
    show = next(line.strip() for line in asked.stdout.splitlines() if line.strip().startswith("rag show "))
    shown = rag(*show.split()[1:])
    assert shown.returncode == 0 and "»" in shown.stdout and "«" in shown.stdout
    answer = json.loads(rag("ask", "--json", "Did Putin go to the Istanbul talks?").stdout)
    assert all(c["url"] is None or "/passage/" not in c["url"] for c in answer["citations"])
    assert any(c["url"] is None for c in answer["citations"])


def test_the_installed_package_runs_outside_the_checkout(tmp_path):
    source, target, work = tmp_path / "source", tmp_path / "site", tmp_path / "work"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], capture_output=True, text=True, cwd=ROOT,
                           check=True).stdout.splitlines()
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                                "--target", str(target), str(source)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    assert (target / "rag" / "prompts" / "system.txt").is_file() and (target / "rag" / "answer" / "ranker.json").is_file()
    assert (target / "rag" / "team" / "migrations" / "versions").is_dir()

    shutil.copytree(ROOT / "corpus", work / "corpus")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "CHROMA_", "OPENAI_"))}
    env.update(PYTHONPATH=str(target), RAG_EMBED_MODEL="fake:hashing", RAG_NER="none", HF_HUB_OFFLINE="1")
    script = subprocess.run([str(target / "bin" / "rag"), "index"], capture_output=True, text=True, cwd=work, env=env,
                            timeout=300)
    assert script.returncode == 0 and "5 added" in script.stdout, script.stderr
    assert (work / "index").is_dir()  # the current folder's corpus/ and index/
    code = ("import rag; from rag import ask; a = ask('Who led the Russian delegation?'); "
            "print(rag.__file__); print(a.citations[0].doc_id)")
    asked = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.splitlines()[0].startswith(str(target)) and asked.stdout.splitlines()[1]
