"""Plain HTTP/1.1 with :mod:`http.client` for native runs (plugin unit tests against a local
server). ``https://`` is not supported natively: it needs the host."""

from __future__ import annotations

import http.client

from .http import MAX_RESPONSE_BYTES, HttpError, Response, Url

#: Seconds to wait for a connection or a read, like the Rust SDK's native client.
TIMEOUT_SECONDS = 30


def send(method: str, url: Url, fields: list[tuple[str, str]], body: bytes) -> Response:
    if url.https:
        raise HttpError("native runs speak plain http:// only (https needs the wasm host)")
    connection = http.client.HTTPConnection(url.authority, timeout=TIMEOUT_SECONDS)
    try:
        connection.putrequest(method, url.path_and_query, skip_accept_encoding=True)
        for name, value in fields:
            connection.putheader(name, value)
        connection.endheaders(body)
        reply = connection.getresponse()
        data = reply.read(MAX_RESPONSE_BYTES + 1)
        if len(data) > MAX_RESPONSE_BYTES:
            raise HttpError("response body exceeds the limit", reply.status)
        headers: dict[str, str] = {}
        for name, value in reply.getheaders():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return Response(reply.status, headers, data)
    except (OSError, http.client.HTTPException) as err:
        raise HttpError(f"{type(err).__name__}: {err}") from None
    finally:
        connection.close()
