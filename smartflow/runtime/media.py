"""What a file is, told by its bytes: the media type an upload is stored and served with.

The client's own Content-Type is never trusted (a page could be uploaded as an "image" and served
back as HTML): the bytes are read by `filetype` (signatures of images, PDF, office documents,
archives, audio and video), and what it does not know is plain text when it decodes as UTF-8
without control characters, else `application/octet-stream`. Served with `nosniff`, so a browser
takes the type as given."""

from __future__ import annotations

OCTET_STREAM = "application/octet-stream"
TEXT = "text/plain; charset=utf-8"
_SAMPLE = 8192  # what filetype and the text test read of a file
_CONTROL = frozenset(range(32)) - {9, 10, 12, 13}  # tab, line feed, form feed, carriage return are text


def sniff(content: bytes) -> str:
    """The media type of content, from its bytes alone."""
    import filetype

    head = content[:_SAMPLE]
    found = filetype.guess_mime(head) if head else None
    if found:
        return str(found)
    if head and _text(head, complete=len(content) <= _SAMPLE):
        return TEXT
    return OCTET_STREAM


def _text(head: bytes, complete: bool) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as problem:
        # a sample cut in the middle of a character is still text
        if complete or problem.start < len(head) - 3:
            return False
        text = head[:problem.start].decode("utf-8")
    return not any(ord(character) in _CONTROL for character in text)


def is_image(content_type: str | None) -> bool:
    """Whether the board may show it as a thumbnail (raster images a browser draws; never SVG,
    which is a document that can carry script)."""
    return content_type in ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp")
