"""The security headers of every answer (the board's pages, the API, the docs): one middleware.

The Content-Security-Policy lets a page run only scripts and styles served by this site, as
files: no inline script, no event-handler attribute, no inline style, no eval, nothing from a CDN.
The board and the API docs are built for it (their scripts are files under /static and
/api/static; a stage's colour is set from its data attribute by /static/page.js). Pages may not
be framed (clickjacking), answers are never sniffed into another type, and a link to another site
is not told which page it was followed from.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",  # Swagger UI's and the board's small icons are data: URLs in their CSS
    "font-src 'self'",
    "connect-src 'self'",  # the board's moves and its live events go back to this site only
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii")),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers that predate it
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeaders:
    """Add HEADERS to every HTTP answer that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in HEADERS if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
