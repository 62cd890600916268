"""When the retrieved sentences support an answer, and when the answer declines."""

from collections import Counter

from rag.answer.question import analyse
from rag.answer.support import score_sentences
from rag.retrieval.stats import CorpusStats, chunk_terms
from rag.types import Passage

CHUNKS = {
    "a": "Maria Kessel, the harbour commissioner, signed the ferry agreement with the islands on Monday.",
    "b": "The port authority expects more passengers next summer, its officials said in a statement.",
    "c": "Fishing quotas for the coming season were discussed at length by the regional council.",
}


def support_for(question: str):
    df = Counter(t for text in CHUNKS.values() for t in chunk_terms(text))
    stats = CorpusStats(chunks=len(CHUNKS), df=df, known_terms=set(df), source_terms={})
    # Far from the question as a whole (dense 0.3): only the words can make it answerable.
    passages = [Passage(f"{d}:0", d, text, 0, len(text), f"Article {d}", dense=0.3) for d, text in CHUNKS.items()]
    return score_sentences(analyse(question), passages, stats)


def test_a_two_part_question_is_answerable_when_one_part_clearly_is():
    assert support_for("Who is Maria Kessel?").answerable
    two_parts = support_for("Who is Maria Kessel and what has she done about fishing in parliament?")
    assert two_parts.coverage < 0.5  # no one sentence covers both parts
    assert two_parts.answerable
    assert two_parts.sentences[0].doc_id == "a"


def test_a_slight_second_part_does_not_stand_for_the_question():
    # "next" is in an article, but it is too little of the question to make it answerable.
    assert not support_for("What did the regional council decide about dredging the canal, and what happened next?").answerable


def test_a_two_part_question_without_content_words_is_declined_not_an_error():
    assert not support_for("Who and what?").answerable


def test_the_best_sentence_answers_even_from_an_article_covering_less_of_the_question():
    from rag.answer.extractive import select_sentences
    from rag.answer.support import Sentence, Support

    def sentence(doc: str, text: str, score: float) -> Sentence:
        passage = Passage(f"{doc}:0", doc, text, 0, len(text), doc)
        return Sentence(doc, 0, len(text), text, score, score, passage)

    answer = sentence("ft", "The front line is 1,000km long, the FT reported.", 0.9)
    other = sentence("essay", "Russia and Ukraine have fought along the front for years.", 0.8)
    # The essay covers more of the question's words; the FT article holds the answer.
    support = Support(sentences=[answer, other], coverage=0.6, closeness=0.6,
                      doc_coverage={"essay": 0.8, "ft": 0.3}, doc_names={"essay": frozenset(), "ft": frozenset()})
    chosen = [s for group in select_sentences(support, 3) for s in group]
    assert chosen[0] is answer and other in chosen
