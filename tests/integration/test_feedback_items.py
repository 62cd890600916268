"""Gold items made from feedback (`rag eval --from-feedback`) as an editor then runs them
(`rag eval --set`): an item made from a thumbs up passes on the answer it was made from."""

from __future__ import annotations

import os
import subprocess
import sys

import yaml
from argon2 import PasswordHasher

from rag.config import Config
from rag.service import Service
from rag.team.accounts import Accounts
from rag.team.conversations import Conversations
from rag.team.db import open_database
from rag.team.feedback import FeedbackStore
from tests.conftest import ROOT

QUESTIONS = ["Who led the Russian delegation?", "What did Rubio say about Istanbul?",
             "Did Putin come to Istanbul?", "How many prisoners were exchanged?"]


def test_items_made_from_thumbs_up_pass_on_their_own_answers(corpus_copy, copy_index, tmp_path):
    index_dir = copy_index(tmp_path / "index")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "CHROMA_", "OPENAI_"))}
    env.update(RAG_CORPUS_DIR=str(corpus_copy), RAG_INDEX_DIR=str(index_dir), HF_HUB_OFFLINE="1")
    config = Config.from_env().with_(corpus_dir=corpus_copy, index_dir=index_dir, openai_api_key=None,
                                     openai_base_url=None, chroma_host=None, database_url=None)
    service = Service(config)
    database = open_database(config)
    try:
        alice = Accounts(database, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)).add("alice", "password-1").id
        for question in QUESTIONS:
            answer = service.ask(question)
            assert answer.answerable and "[1]" in answer.text.split("\n", 1)[0]
            saved = Conversations(database).save_turn(alice, None, answer)
            FeedbackStore(database).rate(alice, saved.turn_id, "up")
    finally:
        database.close()
    del service

    def rag(*args):
        return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, cwd=ROOT, env=env,
                              timeout=300)

    target = tmp_path / "feedback.yaml"
    written = rag("eval", "--from-feedback", str(target), "--rating", "up")
    assert written.returncode == 0, written.stderr
    items = yaml.safe_load(target.read_text(encoding="utf-8"))
    patterns = [p for item in items for fact in item["facts"] for p in fact]
    assert len(items) == len(QUESTIONS) and all(item["facts"] for item in items)
    assert not [p for p in patterns if p in (r"\b1\b", r"\b2\b", r"\bdespite\b")]

    evaluated = rag("eval", "--set", str(target), "--report", str(tmp_path / "report"))
    assert evaluated.returncode == 0, evaluated.stderr
    assert "did not pass" not in evaluated.stdout, evaluated.stdout
