"""``wasi:http/outgoing-handler`` through componentize-py's generated bindings (the SDK's
``wit/world.wit`` imports it). Blocking: each wait is a ``pollable.block()``; the host's own
deadline (``--timeout``) bounds them all."""

from __future__ import annotations

from componentize_py_types import Err, Ok
from wit_world.imports import outgoing_handler, types
from wit_world.imports.streams import StreamError_Closed

from .http import MAX_RESPONSE_BYTES, HttpError, Response, Url

#: Largest chunk read in one call; ``blocking-write-and-flush`` takes at most 4096 bytes.
_READ_CHUNK = 64 * 1024
_WRITE_CHUNK = 4096

_METHODS = {
    "GET": types.Method_Get,
    "HEAD": types.Method_Head,
    "POST": types.Method_Post,
    "PUT": types.Method_Put,
    "DELETE": types.Method_Delete,
    "PATCH": types.Method_Patch,
    "OPTIONS": types.Method_Options,
}


def send(method: str, url: Url, fields: list[tuple[str, str]], body: bytes) -> Response:
    try:
        headers = types.Fields.from_list([(n, v.encode()) for n, v in fields])
    except Err:
        raise HttpError("invalid header field") from None
    outgoing = types.OutgoingRequest(headers)
    known = _METHODS.get(method)
    outgoing.set_method(known() if known else types.Method_Other(method))
    outgoing.set_scheme(types.Scheme_Https() if url.https else types.Scheme_Http())
    outgoing.set_authority(url.authority)
    outgoing.set_path_with_query(url.path_and_query)
    outgoing_body = outgoing.body()
    try:
        future = outgoing_handler.handle(outgoing, None)
    except Err as err:
        raise _from_code(err.value) from None
    written = _write_body(outgoing_body, body)
    with future:
        with future.subscribe() as ready:
            ready.block()
        outcome = future.get()
    if isinstance(outcome, Ok) and isinstance(outcome.value, Err):
        raise _from_code(outcome.value.value)
    if written is not None:
        raise written
    if not (isinstance(outcome, Ok) and isinstance(outcome.value, Ok)):
        raise HttpError("no response")
    with outcome.value.value as incoming:
        status = incoming.status()
        header_map: dict[str, str] = {}
        with incoming.headers() as incoming_headers:
            for name, value in incoming_headers.entries():
                text = value.decode("utf-8", errors="replace")
                name = name.lower()
                header_map[name] = f"{header_map[name]}, {text}" if name in header_map else text
        data = _read_body(incoming.consume(), status)
    return Response(status, header_map, data)


def _write_body(outgoing_body: types.OutgoingBody, body: bytes) -> HttpError | None:
    """Writes and finishes the body; the error, if any, is reported after the request's own
    outcome (a refused request just closes the body stream)."""
    try:
        with outgoing_body.write() as stream:
            for start in range(0, len(body), _WRITE_CHUNK):
                stream.blocking_write_and_flush(body[start : start + _WRITE_CHUNK])
        types.OutgoingBody.finish(outgoing_body, None)
    except Err:
        return HttpError("writing the request body failed")
    return None


def _read_body(incoming_body: types.IncomingBody, status: int) -> bytes:
    data = bytearray()
    with incoming_body.stream() as stream:
        while True:
            try:
                data += stream.blocking_read(_READ_CHUNK)
            except Err as err:
                if isinstance(err.value, StreamError_Closed):
                    break
                raise HttpError("reading the response body failed (it may exceed the host's limit)", status) from None
            if len(data) > MAX_RESPONSE_BYTES:
                raise HttpError("response body exceeds the limit", status)
    incoming_body.__exit__(None, None, None)
    return bytes(data)


def _from_code(code: object) -> HttpError:
    if isinstance(code, types.ErrorCode_HttpRequestDenied):
        return HttpError("request denied by the host's policy (destination not allowed)", denied=True)
    if isinstance(code, types.ErrorCode_DestinationIpProhibited):
        return HttpError("request denied by the host's policy (address not allowed)", denied=True)
    if isinstance(code, types.ErrorCode_ConnectionLimitReached):
        return HttpError("request denied by the host's policy (request limit reached)", denied=True)
    if isinstance(code, types.ErrorCode_HttpResponseBodySize):
        return HttpError("response body exceeds the host's limit")
    if isinstance(code, (types.ErrorCode_ConnectionTimeout, types.ErrorCode_HttpResponseTimeout,
                         types.ErrorCode_ConnectionReadTimeout, types.ErrorCode_ConnectionWriteTimeout)):
        return HttpError("request timed out")
    return HttpError(type(code).__name__.removeprefix("ErrorCode_"))
