"""Incremental, crash-safe indexing against a real embedded Chroma."""

import subprocess
import sys
import textwrap

import pytest

from rag.config import Config
from rag.errors import IndexProblem
from rag.pipeline import Pipeline
from rag.store import Store


def make(corpus, index_dir, **changes) -> Pipeline:
    return Pipeline(Config.from_env().with_(corpus_dir=corpus, index_dir=index_dir, **changes))


def stored_chunks(p: Pipeline) -> dict[str, str]:
    chunks, _ = p.store.open(p.embedder.name)
    records = p.store.get_all(chunks, include=["metadatas"])
    return dict(zip(records["ids"], (m["doc_id"] for m in records["metadatas"])))


def test_unchanged_changed_and_deleted_files(corpus_copy, tmp_path):
    index_dir = tmp_path / "index"
    first = make(corpus_copy, index_dir).index()
    assert (first.documents, len(first.added), first.embedded_chunks) == (5, 5, first.chunks)

    again = make(corpus_copy, index_dir).index()
    assert again.embedded_chunks == 0 and again.unchanged == 5 and again.chunks == first.chunks

    wsj = corpus_copy / "wsj-diplomatic-defeat-for-putin.txt"
    wsj.write_text(wsj.read_text(encoding="utf-8") + "\nA new closing paragraph about the pipeline talks in Geneva.\n", encoding="utf-8")
    (corpus_copy / "analysis-illusion-of-progress.txt").unlink()
    p = make(corpus_copy, index_dir)
    before = stored_chunks(p)
    changed = p.index()
    assert changed.updated == ["wsj-diplomatic-defeat-for-putin"] and changed.removed == ["analysis-illusion-of-progress"]
    assert 0 < changed.embedded_chunks <= 3  # only the chunks whose text changed
    after = stored_chunks(p)
    assert "analysis-illusion-of-progress" not in after.values()
    old_wsj = {cid for cid, doc in before.items() if doc == "wsj-diplomatic-defeat-for-putin"}
    new_wsj = {cid for cid, doc in after.items() if doc == "wsj-diplomatic-defeat-for-putin"}
    assert new_wsj != old_wsj and len(new_wsj) >= len(old_wsj)
    assert "Geneva" in p.document("wsj-diplomatic-defeat-for-putin").text
    assert {s.doc_id for s in p.sources()} == set(after.values())


def test_rebuild_embeds_everything_again(corpus_copy, tmp_path):
    make(corpus_copy, tmp_path / "index").index()
    rebuilt = make(corpus_copy, tmp_path / "index").index(rebuild=True)
    assert rebuilt.embedded_chunks == rebuilt.chunks > 0


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from rag.config import Config
    from rag.pipeline import Pipeline

    corpus, index = Path(sys.argv[1]), Path(sys.argv[2])
    calls = []

    def progress(done, total):
        calls.append(done)
        if len(calls) == 3:  # two documents stored, the third not yet
            os.kill(os.getpid(), signal.SIGKILL)

    Pipeline(Config.from_env().with_(corpus_dir=corpus, index_dir=index)).index(progress=progress)
    """
)


def test_a_run_killed_half_way_leaves_an_index_that_answers_and_the_next_run_completes(corpus_copy, tmp_path):
    index_dir = tmp_path / "index"
    run = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(corpus_copy), str(index_dir)], capture_output=True)
    assert run.returncode == -9

    survivor = make(corpus_copy, index_dir)
    committed = survivor.sources()
    assert 1 <= len(committed) < 5
    answer = survivor.ask("What did the German chancellor say?")
    assert answer.text and all(c.doc_id in {s.doc_id for s in committed} for c in answer.citations)

    finished = make(corpus_copy, index_dir).index()
    assert finished.documents == 5 and len(finished.added) == 5 - len(committed) and finished.unchanged == len(committed)
    assert finished.embedded_chunks < finished.chunks  # what the killed run stored is reused
    assert set(stored_chunks(make(corpus_copy, index_dir)).values()) == {s.doc_id for s in make(corpus_copy, index_dir).sources()}


def test_querying_with_another_embedding_model_is_refused(corpus_copy, tmp_path):
    make(corpus_copy, tmp_path / "index").index()
    other = make(corpus_copy, tmp_path / "index", embed_model="text-embedding-3-small", openai_api_key="sk-test")
    with pytest.raises(IndexProblem, match="--rebuild"):
        other.ask("What did Rubio say?")


def test_missing_index_is_built_on_first_question(corpus_copy, tmp_path):
    p = make(corpus_copy, tmp_path / "fresh")
    assert not Store(p.config).exists()
    assert p.ask("Who led the Russian delegation?").citations


def test_empty_corpus_is_a_clear_error(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "notes.txt").write_text("")
    with pytest.raises(IndexProblem, match="No usable documents.*empty file"):
        make(tmp_path / "corpus", tmp_path / "index").index()


def test_the_cli_does_not_write_an_embedded_index_the_app_is_serving(corpus_copy, tmp_path):
    from rag.indexing import serving

    index_dir = tmp_path / "index"
    app = make(corpus_copy, index_dir)
    app.index()
    command = [sys.executable, "-m", "rag", "index", "--corpus", str(corpus_copy), "--index", str(index_dir)]
    with serving(app.config):
        refused = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert refused.returncode == 1 and "serving the index" in refused.stderr
        assert app.ask("Who led the Russian delegation?").citations  # the app still answers
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
