"""Safe rendering of answers and sources for the web app (rag/web/render.py), without a server."""

from __future__ import annotations

from rag.types import Citation
from rag.web.render import md_text, render_answer, render_sources, safe_url


def test_md_text_neutralises_html_and_markdown():
    out = md_text('<script>alert("x")</script> [click](javascript:alert(3)) ![i](x) `code` a|b $x$')
    assert "<" not in out and "&lt;script&gt;" in out
    assert "[" not in out.replace("\\[", "") and "`" not in out.replace("\\`", "")




def test_safe_url():
    assert safe_url("https://example.com/a") == "https://example.com/a"
    assert safe_url("/passage/x?start=1&end=2") == "/passage/x?start=1&end=2"
    for bad in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "//evil.example", "", None):
        assert safe_url(bad) is None




def test_render_answer_and_sources_link_only_to_safe_places():
    cite = Citation(1, "doc/one", "<b>Title</b> [x](javascript:y)", "a <img onerror=z> quote", "javascript:alert(1)", "Out<i>", None, "2025")
    text = render_answer("Said <script>x</script> this [1] and [7].", [cite])
    assert "[\\[1\\]](/passage/doc%2Fone?start=0&end=0)" in text and "\\[7\\]" in text
    assert "<script>" not in text
    sources = render_sources([cite], "http://127.0.0.1:7860")
    assert "javascript" not in sources.replace("(javascript:y)", "")  # only the escaped title text
    assert "original article" not in sources  # the unsafe URL is dropped
    assert "<img" not in sources and "&lt;img onerror=z&gt;" in sources


