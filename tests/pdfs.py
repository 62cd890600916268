"""PDF files written by hand, so the tests need no PDF writer: a one-page text PDF, and the parts
to build hostile ones (encrypted, compressed) from."""

from __future__ import annotations


def pdf(objects: list[bytes], trailer: bytes = b"") -> bytes:
    """A PDF from its numbered objects (1 is the catalog), with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref)
    return bytes(out)


def page_objects(content: bytes, filters: bytes = b"") -> list[bytes]:
    """Catalog, pages, one page, its content stream and a font: the objects of a one-page PDF."""
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d %s >>\nstream\n" % (len(content), filters) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]


def text_pdf(text: str, title: str = "") -> bytes:
    """A one-page PDF showing `text`, with `title` in its document information."""
    info = b"/Info << /Title (%s) >>" % title.encode() if title else b""
    return pdf(page_objects(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()), info)


def many_pages_pdf(pages: int, words: str = "page") -> bytes:
    """A PDF of `pages` near-empty pages sharing one font: about 150 bytes a page."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for number in range(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({words} {number}) Tj ET".encode()
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 3 0 R >> >> >>" % len(objects))
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), pages)
    return pdf(objects)
