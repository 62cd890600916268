"""Safe rendering of answers, sources and articles for the web app (no gradio import here).

Everything that comes from a document, a question or a model is untrusted: articles can contain
`<script>`, `<img onerror=...>` or `[x](javascript:...)`. Chat messages are markdown, so text is
HTML-escaped *and* stripped of the markdown characters that could build links, images, code or
tables; only the links made here (to http(s) or to the app's own /passage view) are live.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from urllib.parse import quote, urlencode

from rag.answer.citations import is_web_url
from rag.text import MARKER
from rag.types import Citation, Document

# Markdown characters that can create links/images ([ ]), code (`), tables (|), math ($),
# strikethrough (~) or escapes (\). `*` and `_` only make emphasis, so answers may keep them.
_MD_ACTIVE = re.compile(r"([\\`\[\]|$~])")
_MD_EMPHASIS = re.compile(r"([*_])")
# What markdown renderers turn into links by themselves (GFM autolinks: scheme://, www., e-mail
# addresses): written as character references, they show the same and link nowhere.
_AUTOLINKS = ((re.compile(r":(?=//)"), "&#58;"), (re.compile(r"(?i)(?<=www)\."), "&#46;"), (re.compile("@"), "&#64;"))


def md_text(text: str, emphasis: bool = False) -> str:
    """Plain text -> markdown that renders as exactly that text (no HTML, no links)."""
    out = html.escape(text or "", quote=False)
    for pattern, reference in _AUTOLINKS:
        out = pattern.sub(reference, out)
    out = _MD_ACTIVE.sub(r"\\\1", out)
    if not emphasis:
        out = _MD_EMPHASIS.sub(r"\\\1", out)
    return out


def safe_url(url: str | None) -> str | None:
    """http(s) URLs and app-relative paths pass; javascript:, data: and the rest do not."""
    if not url:
        return None
    url = url.strip()
    if url.startswith("/") and not url.startswith("//"):
        return url
    return url if is_web_url(url) else None


def _md_url(url: str) -> str:
    # Characters that would end or confuse a markdown link destination.
    for ch, enc in ((" ", "%20"), ("(", "%28"), (")", "%29"), ("<", "%3C"), (">", "%3E"), ('"', "%22")):
        url = url.replace(ch, enc)
    return url


def passage_path(doc_id: str, start: int, end: int) -> str:
    """The app's own view of a passage, relative to the site root (works behind any host name)."""
    return f"/passage/{quote(doc_id, safe='')}?start={int(start)}&end={int(end)}"


def render_answer(text: str, citations: Sequence[Citation]) -> str:
    """Answer markdown: text escaped, each [n] marker a link to the highlighted passage."""
    by_number = {c.number: c for c in citations}
    out: list[str] = []
    last = 0
    for match in MARKER.finditer(text or ""):
        out.append(md_text(text[last : match.start()], emphasis=True))
        links = []
        for part in match.group(1).split(","):
            number = int(part)
            cite = by_number.get(number)
            label = f"\\[{number}\\]"
            links.append(f"[{label}]({_md_url(passage_path(cite.doc_id, cite.start, cite.end))})" if cite else label)
        out.append("".join(links))
        last = match.end()
    out.append(md_text((text or "")[last:], emphasis=True))
    return "".join(out)


def byline(publisher: str | None, author: str | None, published: str | None) -> str:
    return " · ".join(x for x in (publisher, author, published) if x)


def render_sources(citations: Sequence[Citation], app_url: str = "") -> str:
    """The source list shown under an answer: headline, outlet, author, date, quote, links."""
    blocks = []
    for c in citations:
        lines = [f"**\\[{c.number}\\] {md_text(c.title)}**"]
        meta = byline(c.publisher, c.author, c.published)
        if meta:
            lines.append(md_text(meta))
        if c.also_in:
            lines.append(md_text(f"Also in: {', '.join(c.also_in)}"))
        quote_lines = [md_text(line) for line in (c.quote or "").splitlines() if line.strip()]
        lines.append("\n".join(f"> {line}" for line in quote_lines) or "> (no quote)")
        links = [f"[open passage]({_md_url(passage_path(c.doc_id, c.start, c.end))})"]
        original = safe_url(c.url)
        # Citation.url is the article's own URL when known, else the app's passage view.
        if original and not (app_url and original.startswith(f"{app_url}/passage/")):
            links.append(f"[original article]({_md_url(original)})")
        lines.append(" · ".join(links))
        blocks.append("\n\n".join(lines))
    return "\n\n---\n\n".join(blocks)


_PAGE_CSS = """
body { font: 17px/1.6 Georgia, serif; margin: 0; background: #fafafa; color: #222; }
main { max-width: 46rem; margin: 0 auto; padding: 1.5rem; background: #fff; }
h1 { font-size: 1.6rem; line-height: 1.25; }
.meta, nav { font: 14px/1.4 system-ui, sans-serif; color: #555; }
article { white-space: pre-wrap; }
mark { background: #ffe066; padding: 0.1em 0; scroll-margin-top: 30vh; }
"""


def passage_page(doc: Document, start: int | None, end: int | None, nonce: str) -> str:
    """A full article with the cited span in <mark id="hl">, scrolled into view on load."""
    text = doc.text or ""
    has_span = start is not None and end is not None and 0 <= start < end <= len(text)
    if has_span:
        body = (
            html.escape(text[:start]) + '<mark id="hl">' + html.escape(text[start:end]) + "</mark>"
            + html.escape(text[end:])
        )
    else:
        body = html.escape(text)
    meta = byline(doc.publisher, doc.author, doc.published)
    original = safe_url(doc.url)
    links = ['<a href="/">Back to the chat</a>']
    if has_span:
        links.append('<a href="#hl">Jump to the cited passage</a>')
    if original and original.startswith("http"):
        links.append(f'<a href="{html.escape(original)}" rel="noopener noreferrer">Original article</a>')
    script = (
        f'<script nonce="{nonce}">var hl = document.getElementById("hl");'
        ' if (hl) hl.scrollIntoView({block: "center"});</script>'
        if has_span else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(doc.title or doc.doc_id)}</title><style>{_PAGE_CSS}</style></head><body><main>"
        f"<nav>{' · '.join(links)}</nav>"
        f"<h1>{html.escape(doc.title or doc.doc_id)}</h1>"
        + (f'<p class="meta">{html.escape(meta)}</p>' if meta else "")
        + f"<article>{body}</article></main>{script}</body></html>"
    )


def passage_csp(nonce: str) -> str:
    """Defence in depth: even if escaping failed, only our own nonce'd script could run."""
    return (
        f"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; "
        "img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    )


_BULLET = re.compile(r"^\s*[-*•]\s+")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _answer_html(text: str, numbers: set[int]) -> str:
    """An answer's markdown as the chat shows it, in HTML: lines starting "- " make a list, other
    lines paragraphs, **bold** stays bold, and each [n] links to source n below. Everything else
    is escaped text."""

    def line_html(line: str) -> str:
        out, last = [], 0
        for match in MARKER.finditer(line):
            out.append(_BOLD.sub(r"<strong>\1</strong>", html.escape(line[last : match.start()])))
            out.append("".join(f'<a href="#source-{n}">[{n}]</a>' if n in numbers else f"[{n}]"
                               for n in (int(part) for part in match.group(1).split(","))))
            last = match.end()
        out.append(_BOLD.sub(r"<strong>\1</strong>", html.escape(line[last:])))
        return "".join(out)

    blocks: list[str] = []
    items: list[str] = []
    for line in text.splitlines():
        bullet = _BULLET.match(line)
        if bullet:
            items.append(f"<li>{line_html(line[bullet.end():])}</li>")
            continue
        if items:
            blocks.append(f"<ul>{''.join(items)}</ul>")
            items = []
        if line.strip():
            blocks.append(f"<p>{line_html(line)}</p>")
    if items:
        blocks.append(f"<ul>{''.join(items)}</ul>")
    return "".join(blocks)


def login_path(path: str) -> str:
    """The login page that opens `path` (a path on this site) once the user has logged in."""
    return "/?" + urlencode({"next": path})


def shared_page(owner: str, turn, notes: dict[int, str], nonce: str) -> str:
    """One shared answer, read-only: the question, the answer with its [n] markers linked to the
    sources below, and each source as it was cited (with a note where the article changed since).
    `turn` is a rag.team.conversations.SavedTurn."""
    answer = _answer_html(turn.answer or "", {c.number for c in turn.citations})
    sources = []
    for c in turn.citations:
        meta = byline(c.publisher, c.author, c.published)
        links = [f'<a href="{html.escape(passage_path(c.doc_id, c.start, c.end))}">open passage</a>']
        original = safe_url(c.url)
        if original and original.startswith("http"):
            links.append(f'<a href="{html.escape(original)}" rel="noopener noreferrer">original article</a>')
        note = notes.get(c.number)
        sources.append(
            f'<li id="source-{c.number}"><b>[{c.number}] {html.escape(c.title)}</b>'
            + (f'<div class="meta">{html.escape(meta)}</div>' if meta else "")
            + f"<blockquote>{html.escape(c.quote)}</blockquote>"
            + (f'<p class="meta">⚠️ {html.escape(note)}</p>' if note else "")
            + f'<nav>{" · ".join(links)}</nav></li>'
        )
    asked = turn.created_at.strftime("%Y-%m-%d %H:%M UTC") if turn.created_at else ""
    notice = f'<p class="meta">⚠️ {html.escape(turn.notice)}</p>' if turn.notice else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(turn.question[:80])}</title><style>{_PAGE_CSS}"
        "blockquote { margin: 0.4rem 0 0.4rem 1rem; color: #333; } li { margin-bottom: 1rem; }</style>"
        f'</head><body><main><nav><a href="/">Back to the chat</a></nav>'
        f'<p class="meta">Shared by {html.escape(owner)} · asked {html.escape(asked)} · answered by '
        f"{html.escape(turn.mode)} · read-only</p>"
        f'<h1 id="question">{html.escape(turn.question)}</h1>'
        f'<article id="answer">{answer}</article>{notice}'
        + (f'<h2>Sources</h2><ol id="sources">{"".join(sources)}</ol>' if sources else "")
        + f'<script nonce="{nonce}"></script></main></body></html>'
    )
