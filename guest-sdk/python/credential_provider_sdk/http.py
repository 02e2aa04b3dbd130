"""A small blocking HTTP client for plugins.

Inside the host (``sys.platform == "wasi"``) it speaks ``wasi:http/outgoing-handler`` through
componentize-py's bindings: the host checks every request against the operator's
``--allow-http`` list and refuses the rest (:class:`HttpError` with ``denied`` set). Natively
(plugin unit tests) it speaks plain HTTP/1.1 with :mod:`http.client`, ``http://`` only. Bodies are
bytes, always framed with ``Content-Length`` (never chunked, which many token endpoints refuse).
Redirects are not followed: a 3xx is returned as is."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from typing import Iterable, Mapping
from urllib.parse import quote

#: Largest response body read: the host's own default cap (``--max-http-response``).
MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class HttpError(Exception):
    """A request that failed, or a status that was not wanted. Never quotes a body."""

    def __init__(self, message: str, status: int | None = None, denied: bool = False):
        super().__init__(message)
        #: The status, when the server answered.
        self.status = status
        #: Whether the host's egress policy refused the request.
        self.denied = denied


@dataclass
class Response:
    """A response, read whole."""

    #: The status code.
    status: int
    #: Header fields, names lowercased (a repeated field's values joined with ``, ``).
    headers: dict[str, str] = field(default_factory=dict)
    #: The body.
    body: bytes = b""

    def text(self) -> str:
        """The body as text (invalid UTF-8 replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> object:
        """The body as JSON; the error never quotes the body."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise HttpError("the response body is not JSON", self.status) from None

    def error_for_status(self) -> "Response":
        """``self`` if the status is 2xx, else raises :class:`HttpError` naming the status."""
        if 200 <= self.status < 300:
            return self
        raise HttpError(f"server answered with status {self.status}", self.status)


@dataclass(frozen=True)
class Url:
    """An absolute URL split the way requests need it."""

    https: bool
    #: ``host[:port]`` as written.
    authority: str
    #: Path and query, at least ``/``.
    path_and_query: str

    @staticmethod
    def parse(url: str) -> "Url":
        match = re.fullmatch(r"(?i)(https?)://([^/?#@]+)([^#]*)(#.*)?", url)
        if not match:
            raise HttpError("invalid URL: not an absolute http(s) URL")
        path = match.group(3)
        if not path.startswith("/"):
            path = "/" + path
        return Url(match.group(1).lower() == "https", match.group(2), path)


def without_query(url: str) -> str:
    """``url`` without its query or fragment (which may carry identifiers), for messages."""
    return re.split(r"[?#]", url, maxsplit=1)[0]


def form_encode(fields: Iterable[tuple[str, str]]) -> str:
    """``application/x-www-form-urlencoded``: RFC 3986's unreserved characters as they are, every
    other UTF-8 byte as ``%XX`` (the same bytes the Rust and JavaScript SDK plugins send)."""
    return "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in fields)


def request(
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> Response:
    """Sends one request and reads the whole response."""
    if not isinstance(body, (bytes, bytearray)):
        raise HttpError("the body must be bytes")
    parsed = Url.parse(url)
    fields = [(name.lower(), value) for name, value in (headers or {}).items()]
    fields = [(n, v) for n, v in fields if n not in ("content-length", "transfer-encoding")]
    if body or method.upper() in ("POST", "PUT", "PATCH"):
        fields.append(("content-length", str(len(body))))
    # The transport's HttpError says what failed, never where: the caller names the URL
    # (without its query, see without_query), as the Rust SDK's errors do.
    return _transport().send(method.upper(), parsed, fields, bytes(body))


def _transport():
    """The transport module. Imported when this module is: componentize-py snapshots the
    interpreter after importing the plugin, and a module first imported later is not there."""
    return _TRANSPORT


def post_form(
    url: str, fields: Iterable[tuple[str, str]], headers: Mapping[str, str] | None = None
) -> Response:
    """``POST``s ``fields`` as ``application/x-www-form-urlencoded`` (see :func:`form_encode`)."""
    all_headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    return request("POST", url, all_headers, form_encode(fields).encode())


if sys.platform == "wasi":
    from . import _wasi_http as _TRANSPORT
else:
    from . import _native_http as _TRANSPORT
