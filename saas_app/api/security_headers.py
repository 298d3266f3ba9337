"""Security headers on every HTTP response: the app's pages, its assets and the API.

Reflex mounts its whole backend, the built frontend included, behind the FastAPI app
(`api_transformer`), so this one middleware covers both ways the web process serves
pages (`reflex run --single-port` and `python -m saas_app.web`).

The Content-Security-Policy allows scripts from the app's origin plus the inline scripts
of the page being served, by their SHA-256 hashes (Reflex's prerendered pages carry a few;
the hashes are taken from the response itself, so any build works), and `eval`: Reflex's
frontend runs the client-side actions the server sends (toasts, copying to the clipboard,
`rx.call_script`) through it. Inline scripts not of the page, inline event handlers and
`javascript:` URLs (what an injected string would use) stay blocked. Styles may be inline:
Emotion and Radix write them at run time.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from urllib.parse import urlsplit

import anyio
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saas_app import routes
from saas_app.settings import get_settings

HSTS = "max-age=31536000; includeSubDomains"
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)
_SWAGGER_CDN = "https://cdn.jsdelivr.net"  # FastAPI's docs page loads Swagger UI from there
# Non-HTML answers (JSON, media, files) run nothing: they may load nothing and be framed nowhere.
_NON_HTML_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _file_origins() -> list[str]:
    """Where the browser fetches render videos and thumbnails from besides the app (presigned S3 URLs)."""
    settings = get_settings()
    if settings.STORAGE_BACKEND != "s3":
        return []
    public = settings.S3_PUBLIC_ENDPOINT_URL or settings.S3_ENDPOINT_URL
    return [_origin(public)] if public else ["https://*.amazonaws.com"]


def page_csp(script_hashes: list[str], path: str) -> str:
    """The Content-Security-Policy of an HTML page whose inline scripts have `script_hashes`."""
    base = get_settings().APP_BASE_URL
    socket = base.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    files = " ".join(_file_origins())
    cdn = f" {_SWAGGER_CDN}" if path == routes.API_DOCS else ""
    scripts = " ".join(f"'sha256-{h}'" for h in script_hashes)
    return "; ".join([
        "default-src 'self'",
        # Reflex runs the client actions the server sends (toasts, clipboard, scripts) with eval().
        f"script-src 'self' 'unsafe-eval' {scripts}{cdn}".rstrip(),
        f"style-src 'self' 'unsafe-inline'{cdn}",
        f"img-src 'self' data: blob: {files}{' https://fastapi.tiangolo.com' if cdn else ''}".rstrip(),
        "font-src 'self' data:",
        f"media-src 'self' blob: {files}".rstrip(),
        f"connect-src 'self' {_origin(base)} {_origin(socket)}",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def inline_script_hashes(html: bytes) -> list[str]:
    """Base64 SHA-256 of each inline script's text, as CSP hash sources want them (duplicates once)."""
    found = [base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() for m in _INLINE_SCRIPT.finditer(html)]
    return list(dict.fromkeys(found))


def referrer_policy(path: str) -> str:
    """`no-referrer` on the sign-in link and invitation pages (their URLs hold a token); `same-origin` elsewhere."""
    return "no-referrer" if path.rstrip("/") in (routes.VERIFY, routes.INVITE) else "same-origin"


def _set_common(headers: MutableHeaders, path: str) -> None:
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = referrer_policy(path)
    if get_settings().SECURE_COOKIES:  # served over HTTPS: browsers must never use plain HTTP again
        headers["Strict-Transport-Security"] = HSTS


def _decoded(body: bytes, encoding: str) -> bytes:
    return gzip.decompress(body) if encoding == "gzip" else body


def _with_csp(start: Message, body: bytes, path: str) -> Message:
    """The held response start of an HTML page, with the CSP for the inline scripts in `body`."""
    headers = MutableHeaders(scope=start)
    html = _decoded(body, headers.get("content-encoding", ""))
    headers["Content-Security-Policy"] = page_csp(inline_script_hashes(html), path)
    return start


class SecurityHeadersMiddleware:
    """Add CSP, framing, sniffing, referrer and (over HTTPS) HSTS headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_with_headers(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                _set_common(headers, path)
                if message["status"] == 304:  # the cached page keeps its own policy (a 304's headers replace it)
                    await send(message)
                    return
                if not headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = _NON_HTML_CSP
                    await send(message)
                    return
                start = message  # an HTML page: its CSP needs the hashes of its inline scripts
                return
            if start is None:
                await send(message)
                return
            if message["type"] == "http.response.pathsend":  # a file the server sends itself (granian)
                body = await anyio.Path(message["path"]).read_bytes()
                await send(_with_csp(start, body, path))
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            await send(_with_csp(start, body, path))
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, send_with_headers)
