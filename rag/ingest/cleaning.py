"""Rule-based cleaning of news article text, and the metadata a plain text reveals.

Scraped and copy-pasted articles carry page furniture: comment sections, "Also read" teasers,
numbered link lists, newsletter prompts, author-bio boxes, contact sign-offs, tag lists. The rules
below look at the shape of a line (short, a known prompt, a list marker), never at a particular
site or file. Paragraphs that survive are kept verbatim, so quotes cut from the cleaned text are
the article's own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import re2

# A line that opens a comment section; everything after it is page furniture.
_COMMENTS_START = re.compile(
    r"^(\d+\s+comments?|comments?|leave a (reply|comment)( to .*)?|join the (conversation|discussion)|"
    r"show comments|view comments|\d+\s+responses?( to .*)?|post a comment|add a comment|"
    r"comments policy|conversation|reader comments)\s*:?$",
    re.I,
)

# Lines that are furniture wherever they stand.
_FURNITURE = re.compile(
    r"^(advertisement|skip advertisement|story continues below( advertisement)?|"
    r"back to top|scroll to top|share( this( article| story)?)?|print|email|facebook|twitter|linkedin|whatsapp|"
    r"(popular|recent|trending|latest)( (posts|stories|news))?|most (read|popular|viewed)|"
    r"recommended( for you| stories| reading)?|related( articles| stories| posts| coverage| content)?|"
    r"more (from|on) .{0,60}|you may also like|read more|see also|topics?|tags?|"
    r"cancel reply|please enter your (comment|name here)!?|this site uses akismet.*|"
    r"your email address will not be published.*|required fields are marked.*|"
    r"all comments are reviewed.*|please be respectful.*|comments are the opinions.*|"
    r"subscribe( now| today| for free)?|sign up( now| here| for free)?|log ?in|register|"
    r"video player was slow to load content.*|1\. how relevant is this ad to you\?|"
    r"copy link|link copied|listen to this article.*|\d+ min read|photo:.{0,120}|image:.{0,120}|"
    r"(getty images|ap photo|reuters)[^.]{0,80}|close|menu|search|home|loading\.*)\s*:?\s*$",
    re.I,
)

# Prompts and teasers that start a line ("Also Read: <another story>").
_TEASER = re.compile(
    r"^(also read|read also|read more|read next|must read|recommended|related|see also|watch|listen|"
    r"more coverage|don't miss|trending)\s*[:|\-–—]\s*\S",
    re.I,
)
_NEWSLETTER = re.compile(
    r"(subscribe to (get|our|the)|sign up (for|to|here)\b|get the latest posts|"
    r"(get|receive|subscribe to|sign up for) [\w’' ]{0,40}newsletter|"
    r"delivered to your inbox|sent to your email|to continue reading|already a subscriber|"
    r"support (our|independent) journalism|enable javascript|accept (all )?cookies|cookie policy)",
    re.I,
)
_DISCOVER = re.compile(r"^discover more from (?P<outlet>.{2,80}?)\s*$", re.I)
_WRITE_TO = re.compile(r"^(write to|contact|email) (?P<who>.+?@.+)$", re.I)
# RE2 (linear time): Python's engine retries the name from every capital of a long word, which is
# quadratic (16,000 letters: 40 s). \pL\pN_ is Python's \w; RE2's \w is ASCII only.
_WRITE_TO_NAME = re2.compile(r"([A-Z][\pL\pN_.'’-]+(?: [A-Z][\pL\pN_.'’-]+){0,3}) at [\pL\pN_.+-]+@[\pL\pN_-]+\.[\pL\pN_.]+")
_REPORTING = re.compile(r"^(additional|extra) reporting by .{3,120}$", re.I)
_BYLINE = re.compile(r"^by\s+(?P<who>[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){1,3}(?:\s+and\s+[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){1,3})?)\s*[,|]?.{0,60}$")
_NAME = re.compile(r"^[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){1,3}$")
_NUMBERED_LINK = re.compile(r"^\d{1,2}[.)]?$")


@dataclass
class Cleaned:
    """Cleaned text plus what the text revealed about its source."""

    text: str
    title: str | None = None
    author: str | None = None
    publisher: str | None = None
    removed: list[str] = field(default_factory=list)


def _stray(line: str) -> bool:
    """A lone mark, digit or letter ("-", "1", "•", "|", "»"): what `^\\W?\\s*\\w?\\s*\\W?$`
    matches, in plain code. That regex took quadratic time on a long run of spaces."""
    rest = line[1:] if line and not _word_char(line[0]) else line
    rest = rest.lstrip()
    if not rest:
        return True
    if not _word_char(rest[0]):
        return len(rest) == 1
    tail = rest[1:].lstrip()
    return not tail or len(tail) == 1 and not _word_char(tail)


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _norm(line: str) -> str:
    return re.sub(r"\s+", " ", line).strip()


def _looks_like_headline(line: str) -> bool:
    words = [w for w in line.split() if any(ch.isalpha() for ch in w)]
    if not 3 <= len(words) <= 30 or len(line) > 250:
        return False
    # A headline rarely ends in a full stop; a first paragraph of body text does.
    return not line.rstrip().endswith((".", ",", ";", ":")) or line.rstrip().endswith("...")


def _strip_comment_section(lines: list[str], removed: list[str]) -> list[str]:
    """Cut from the first comment-section header found in the last third of the text."""
    start = int(len(lines) * 0.5)
    for i in range(start, len(lines)):
        if _COMMENTS_START.match(_norm(lines[i])):
            removed.extend(line for line in lines[i:] if line.strip())
            return lines[:i]
    return lines


def _strip_bio_box(lines: list[str], removed: list[str]) -> tuple[list[str], str | None]:
    """An author box: a name on its own line (often twice), then "<Name> is a ..." near the end."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    tail = content[-8:]
    for pos, i in enumerate(tail):
        name = _norm(lines[i])
        if not _NAME.match(name) or pos + 1 >= len(tail):
            continue
        following = [_norm(lines[j]) for j in tail[pos + 1 :]]
        surname = name.split()[-1]
        for k, text in enumerate(following):
            if text == name:
                continue
            first_words = " ".join(text.split()[:6])
            if surname in first_words and re.search(r"\b(is|was|has|covers|writes)\b", text):
                end = tail[pos + 1 + k]
                removed.extend(_norm(lines[j]) for j in range(i, end + 1) if lines[j].strip())
                return lines[:i] + lines[end + 1 :], name
            break
    return lines, None


def clean_article(raw: str) -> Cleaned:
    """Remove page furniture from an article and pull out the metadata its text reveals."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "").replace("\u00a0", " ")
    lines = [line.rstrip() for line in text.split("\n")]
    removed: list[str] = []
    author: str | None = None
    publisher: str | None = None

    lines = _strip_comment_section(lines, removed)
    lines, bio_name = _strip_bio_box(lines, removed)
    if bio_name:
        author = bio_name

    kept: list[str] = []
    for line in lines:
        norm = _norm(line)
        if not norm:
            kept.append("")
            continue
        if m := _DISCOVER.match(norm):
            publisher = publisher or m.group("outlet").strip()
            removed.append(norm)
            continue
        if m := _WRITE_TO.match(norm):
            names = _WRITE_TO_NAME.findall(norm)
            if names and not author:
                author = " and ".join(dict.fromkeys(names))
            removed.append(norm)
            continue
        if m := _BYLINE.match(norm):
            if not author:
                author = m.group("who")
            removed.append(norm)
            continue
        if (
            _FURNITURE.match(norm)
            or _TEASER.match(norm)
            or _REPORTING.match(norm)
            or _stray(norm)
            or _NUMBERED_LINK.match(norm)
            or (len(norm) < 300 and _NEWSLETTER.search(norm))
        ):
            removed.append(norm)
            continue
        kept.append(line.strip())

    # Trailing tag lists: short lowercase lines after the last paragraph.
    while kept and (not kept[-1] or (len(kept[-1].split()) <= 3 and kept[-1][:1].islower())):
        if kept[-1]:
            removed.append(kept[-1])
        kept.pop()

    paragraphs = [p for p in kept]
    content = [p for p in paragraphs if p]
    title = None
    if content and _looks_like_headline(content[0]):
        title = content[0]
        # The headline repeated as the first paragraph (a common copy-paste artefact).
        dupes = [i for i, p in enumerate(paragraphs) if p == title]
        for i in reversed(dupes[1:]):
            removed.append(paragraphs.pop(i))

    body = "\n".join(paragraphs)
    body = re.sub(r"\n{3,}", "\n\n", body).strip()
    return Cleaned(text=body, title=title, author=author, publisher=publisher, removed=removed)
