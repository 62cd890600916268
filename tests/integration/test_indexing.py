"""Incremental, crash-safe indexing and rebuilds against a real embedded Chroma (the rebuild
against a `chroma run` server is in tests/servers/test_indexing_chroma_server.py)."""

import shutil
import subprocess
import sys
import textwrap

import pytest

from rag.config import Config
from rag.errors import IndexProblem
from rag.service import Service
from rag.backends.store import Store


def make(corpus, index_dir, **changes) -> Service:
    return Service(Config.from_env().with_(corpus_dir=corpus, index_dir=index_dir, **changes))


def collections(p: Service) -> set[str]:
    return {c.name for c in p.store.client.list_collections()}


def assert_one_generation(p: Service) -> None:
    """Exactly the live generation's collections (and the pointer's): no leftovers."""
    live = p.store.live_generation()
    prefix = f"news_{live}" if live else "news"
    assert collections(p) - {"news_meta"} == {f"{prefix}_chunks", f"{prefix}_docs"}


def stored_chunks(p: Service) -> dict[str, str]:
    return {chunk_id: meta["doc_id"] for chunk_id, _, meta, _ in p.store.open(p.embedder.name).chunk_records(vectors=False)}


def test_unchanged_changed_and_deleted_files(corpus_copy, tmp_path):
    index_dir = tmp_path / "index"
    first = make(corpus_copy, index_dir).index()
    assert (first.documents, len(first.added), first.embedded_chunks) == (5, 5, first.chunks)

    again = make(corpus_copy, index_dir).index()
    assert again.embedded_chunks == 0 and again.unchanged == 5 and again.chunks == first.chunks

    wsj = corpus_copy / "wsj-diplomatic-defeat-for-putin.txt"
    wsj.write_text(wsj.read_text(encoding="utf-8") + "\nA new closing paragraph about the service talks in Geneva.\n", encoding="utf-8")
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


def test_rebuild_embeds_everything_again(corpus_copy, tmp_path, copy_index):
    copy_index(tmp_path / "index")
    rebuilt = make(corpus_copy, tmp_path / "index").index(rebuild=True)
    assert rebuilt.embedded_chunks == rebuilt.chunks > 0


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from rag.backends.store import StoredIndex
    from rag.config import Config
    from rag.ingest import indexer
    from rag.service import Service

    corpus, index = Path(sys.argv[1]), Path(sys.argv[2])
    indexer.WINDOW_CHUNKS = indexer.LAST_WINDOWS_CHUNKS = 1  # a window, and a commit, per document
    commit = StoredIndex.commit_documents
    calls = []

    def commit_then_die(self, *args, **kwargs):
        if len(calls) == 2:  # two documents committed, the chunks of others stored, not committed
            os.kill(os.getpid(), signal.SIGKILL)
        calls.append(args)
        commit(self, *args, **kwargs)

    StoredIndex.commit_documents = commit_then_die
    Service(Config.from_env().with_(corpus_dir=corpus, index_dir=index)).index()
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


REBUILD_KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import chromadb.api.client
    from rag import cli
    from rag.backends.store import Store

    corpus, index, moment = sys.argv[1:4]

    def die(*_):
        os.kill(os.getpid(), signal.SIGKILL)

    def then_die(cls, name):
        original = getattr(cls, name)

        def step(*args, **kwargs):
            original(*args, **kwargs)
            die()

        setattr(cls, name, step)

    if moment == "recorded":  # the new generation is recorded, none of its collections exists
        then_die(Store, "start_generation")
    elif moment == "embedding":  # the new generation half embedded
        calls = []

        def progress(done, total):
            calls.append(done)
            if len(calls) == 3:
                die()

        cli.progress_bar = lambda: (progress, lambda: None)
    elif moment == "built":  # the whole new generation stored, the old one still live
        Store.make_live = die
    elif moment == "switched":  # the new generation live, readers not yet told, the old one not deleted
        then_die(Store, "make_live")
    elif moment == "deleting":  # half of the old generation deleted
        then_die(chromadb.api.client.Client, "delete_collection")
    cli.main(["index", "--rebuild", "--corpus", corpus, "--index", index])
    """
)

FERRY = (
    "Island Ferry Timetable Changes\n\nThe harbour authority approved a new ferry timetable on Monday. "
    "“We listened to the islanders,” said the harbour master, Ines Varga.\n"
)
FERRY_QUESTION = "What did the harbour master say about the ferry timetable?"


@pytest.fixture(scope="module")
def index_before_rebuild(prebuilt_index):
    """An index of the five articles, built by another process so this one holds no Chroma handles on it."""
    return prebuilt_index


@pytest.mark.parametrize(
    ("moment", "next_run"),
    [("recorded", "index"), ("embedding", "index"), ("embedding", "rebuild"), ("built", "index"),
     ("switched", "index"), ("deleting", "index")],
)
def test_a_rebuild_killed_at_any_moment_leaves_an_index_that_answers(
    corpus_copy, tmp_path, index_before_rebuild, moment, next_run
):
    index_dir = tmp_path / "index"
    shutil.copytree(index_before_rebuild, index_dir)
    (corpus_copy / "ferry.txt").write_text(FERRY, encoding="utf-8")  # only the rebuilt index knows it
    command = [sys.executable, "-c", REBUILD_KILL_SCRIPT, str(corpus_copy), str(index_dir), moment]
    run = subprocess.run(command, capture_output=True, timeout=300)
    assert run.returncode == -9, run.stderr.decode()

    survivor = make(corpus_copy, index_dir)
    switched = moment in ("switched", "deleting")
    assert survivor.store.live_generation() == ("1" if switched else "")
    assert len(survivor.sources()) == (6 if switched else 5)
    answer = survivor.ask("What did the German chancellor say?")
    assert answer.answerable and answer.citations
    assert survivor.ask(FERRY_QUESTION).answerable is switched

    finished = make(corpus_copy, index_dir)
    summary = finished.index(rebuild=next_run == "rebuild")
    assert summary.documents == 6
    assert_one_generation(finished)
    assert finished.ask(FERRY_QUESTION).citations[0].doc_id == "ferry"
    assert survivor.ask(FERRY_QUESTION).citations[0].doc_id == "ferry"  # a loaded index follows


def test_an_index_built_before_generations_still_opens_answers_and_rebuilds(corpus_copy, tmp_path, service):
    """`news_chunks` and `news_docs` with no pointer, as indexes were laid out before rebuilds built aside."""
    old = make(corpus_copy, tmp_path / "index")
    assert service.store.live_generation() == ""  # the shared index was never rebuilt: news_chunks, news_docs
    for name in ("news_chunks", "news_docs"):
        source = service.store.client.get_collection(name, embedding_function=None)
        records = source.get(include=["embeddings", "documents", "metadatas"])
        target = old.store.client.create_collection(name, metadata=source.metadata, embedding_function=None)
        target.add(ids=records["ids"], embeddings=[list(map(float, v)) for v in records["embeddings"]],
                   documents=records["documents"], metadatas=records["metadatas"])
    assert collections(old) == {"news_chunks", "news_docs"}

    assert old.ask("Who led the Russian delegation?").citations
    assert make(corpus_copy, tmp_path / "index").index().embedded_chunks == 0

    rebuilt = make(corpus_copy, tmp_path / "index")
    assert rebuilt.index(rebuild=True).embedded_chunks > 0
    assert collections(rebuilt) == {"news_meta", "news_1_chunks", "news_1_docs"}
    assert make(corpus_copy, tmp_path / "index").ask("Who led the Russian delegation?").citations


def test_querying_with_another_embedding_model_is_refused(corpus_copy, tmp_path, copy_index):
    copy_index(tmp_path / "index")
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


def test_the_cli_hands_its_indexing_to_the_app_serving_an_embedded_index(corpus_copy, tmp_path, copy_index):
    from rag.errors import IndexProblem
    from rag.ingest.handoff import HandoffWorker
    from rag.ingest.locks import serving

    index_dir = copy_index(tmp_path / "index")
    app = make(corpus_copy, index_dir)
    assert app.index().embedded_chunks == 0
    command = [sys.executable, "-m", "rag", "index", "--corpus", str(corpus_copy), "--index", str(index_dir)]
    (corpus_copy / "ferry.txt").write_text("Ferry Timetable\n\nThe harbour master Ines Varga approved a new ferry "
                                            "timetable for the islands on Monday after a long debate.\n")
    worker = HandoffWorker(app.config, app.index)
    with serving(app.config):
        with pytest.raises(IndexProblem, match="Another app process already serves the embedded index .* CHROMA_HOST"):
            with serving(app.config):  # a second app on the same folder
                pass
        worker.start()
        try:
            handed = subprocess.run(command, capture_output=True, text=True, timeout=300)
        finally:
            worker.stop()
        assert handed.returncode == 0, handed.stderr
        assert f"The app serving {index_dir} is indexing it" in handed.stderr
        assert "1 added" in handed.stdout and "documents" in handed.stdout
        assert any(c.doc_id == "ferry" for c in app.ask("Who approved the new ferry timetable?").citations)
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "is indexing it" not in done.stderr, done.stderr
