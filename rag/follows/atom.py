"""A user's private Atom feed of their followed questions' updates (RFC 4287), for any feed reader.

Built with ElementTree, which escapes every text and attribute: questions, answers and headlines
are data, never markup. Links point into the app (the passage view) or at the article's own URL.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

from rag.follows.store import Update

ATOM = "http://www.w3.org/2005/Atom"
CONTENT_TYPE = "application/atom+xml; charset=utf-8"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # characters XML 1.0 cannot hold


def _plain(snapshot: dict) -> str:
    short = snapshot.get("short_answer")
    text = snapshot.get("text") or ""
    return f"{short}\n\n{text}" if short and short not in text[:200] else text


def _article_line(article: dict) -> str:
    parts = [article.get("title") or "an article", article.get("publisher") or "", article.get("published") or ""]
    return " · ".join(p for p in parts if p)


def atom_feed(owner: str, updates: list[Update], feed_url: str, app_url: str, now: dt.datetime) -> bytes:
    """The feed document: one entry per update, newest first."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = f"Followed questions of {owner}"
    ET.SubElement(feed, f"{{{ATOM}}}id").text = feed_url
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=feed_url)
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", href=app_url + "/")
    newest = max((u.created_at for u in updates), default=now)
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = newest.isoformat(timespec="seconds")
    ET.SubElement(ET.SubElement(feed, f"{{{ATOM}}}author"), f"{{{ATOM}}}name").text = "newsrag"
    for update in updates:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}title").text = f"{update.question} — {update.reason}"
        ET.SubElement(entry, f"{{{ATOM}}}id").text = f"{app_url}/follows/update/{update.update_id}"
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = update.created_at.isoformat(timespec="seconds")
        article = update.article or {}
        if article.get("url"):
            ET.SubElement(entry, f"{{{ATOM}}}link", rel="related", href=str(article["url"]))
        body = (f"Question: {update.question}\n\n{update.reason}\n\n"
                f"Changed by: {_article_line(article)}\n\n"
                f"Before ({update.old.get('seen_at', '')}):\n{_plain(update.old)}\n\n"
                f"Now ({update.new.get('seen_at', '')}):\n{_plain(update.new)}")
        ET.SubElement(entry, f"{{{ATOM}}}content", type="text").text = body
    for element in feed.iter():
        if element.text:
            element.text = _NOT_XML.sub("", element.text)
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode")).encode()
