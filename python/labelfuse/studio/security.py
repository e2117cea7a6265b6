"""The studio's guard: a secret token on every request, and bounded request bodies.

The studio runs the user's Python, so whoever can reach it can run code as the user. As Jupyter does, it prints a
URL with a random token; a request is served only when it carries that token: in the URL (``?token=``, the first
load; the answer then sets a cookie), in the ``X-Labelfuse-Token`` header (the page's own requests) or in the
cookie. Requests that change something (anything but GET / HEAD) must carry the header: a cookie alone is not
enough, so another web site cannot make the browser post to the studio (cross-site request forgery; the page's
script reads the token from a meta tag of the page, which only a token holder can load). Everything else gets 403.
"""
from __future__ import annotations

import secrets
from http.cookies import SimpleCookie
from typing import Any, Awaitable, Callable, Dict, Optional
from urllib.parse import parse_qs

__all__ = ["TOKEN_HEADER", "TokenGuard", "cookie_name", "new_token"]

TOKEN_HEADER = "x-labelfuse-token"
MAX_BODY_BYTES = 1 << 20  # LF code and specs are small; anything larger is refused before it is read
_SAFE_METHODS = ("GET", "HEAD")

Scope = Dict[str, Any]
Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def cookie_name(port: Optional[int]) -> str:
    """Cookies ignore the port: one name per port keeps two studios on one host from overwriting each other's."""
    return f"labelfuse-studio-{port or 0}"


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class TokenGuard:
    """ASGI middleware: refuses (403) any request without the token and (413) any body over ``max_body`` bytes."""

    def __init__(self, app: Any, token: str, max_body: int = MAX_BODY_BYTES) -> None:
        if not isinstance(token, str) or len(token) < 16:
            raise ValueError("token: expected a random str of at least 16 characters")
        self.app = app
        self.token = token
        self.max_body = max_body

    def _matches(self, value: Optional[str]) -> bool:
        return value is not None and secrets.compare_digest(value.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        port = (scope.get("server") or (None, None))[1]
        name = cookie_name(port)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        from_query = self._matches((query.get("token") or [None])[0])
        from_header = self._matches(headers.get(TOKEN_HEADER))
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is simply no token
            cookie = SimpleCookie()
        from_cookie = name in cookie and self._matches(cookie[name].value)
        safe = scope["method"] in _SAFE_METHODS
        if not (from_header or (safe and (from_query or from_cookie))):
            why = ("a request that changes something needs the X-Labelfuse-Token header" if not safe and
                   (from_query or from_cookie) else "missing or wrong token")
            await _plain(send, 403, f"labelfuse studio: {why}. Open the URL that `labelfuse studio` printed "
                                    "(it ends in ?token=...).")
            return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _plain(send, 413, f"labelfuse studio: request body over {self.max_body} bytes")
            return
        receive = self._bounded(receive)
        if from_query:
            send = self._with_cookie(send, name)
        await self.app(scope, receive, send)

    def _bounded(self, receive: Receive) -> Receive:
        """A body sent in chunks (no Content-Length) is cut off at ``max_body`` bytes as it arrives."""
        seen = 0
        limit = self.max_body

        async def bounded() -> Dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message
        return bounded

    def _with_cookie(self, send: Send, name: str) -> Send:
        value = f"{name}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode("latin-1")

        async def sending(message: Dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [(b"set-cookie", value)]
            await send(message)
        return sending


class BodyTooLarge(Exception):
    """Raised while a chunked body is read past the limit; the app answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")
