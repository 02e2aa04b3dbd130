"""The plugin's entry point: read the request, call the handler, write the response, and turn
any exception into one stderr line and exit status 1. Under componentize-py the plugin's module
exports ``Run = run(handler)`` (the ``wasi:cli/run`` export); natively, :func:`main` runs the
same path on any streams, and :func:`handle` on bytes, for tests."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Mapping, TextIO

from .protocol import ProtocolError, Request, Response, decode_request, encode_response

#: Largest request read from stdin: a kubelet request is a few KiB at most.
MAX_REQUEST_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Context:
    """What a handler gets besides the request: the guest's arguments (the host's ``--arg``
    values) and its environment (only what the host's ``--env`` grants)."""

    args: list[str] = field(default_factory=list)
    env: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Request, Context], Response]


def handle(data: bytes | str, handler: Handler, context: Context | None = None) -> str:
    """Decodes ``data`` strictly, calls ``handler(request, context)``, and returns the response
    JSON (no newline). Raises an exception whose message is the line :func:`main` prints."""
    if isinstance(data, bytes) and len(data) > MAX_REQUEST_BYTES:
        raise ProtocolError(f"request on stdin is larger than {MAX_REQUEST_BYTES} bytes")
    request = decode_request(data)
    resp = handler(request, context if context is not None else Context())
    if not isinstance(resp, Response):
        raise ProtocolError("the handler returned no response (build one with response(request))")
    if resp.api_version != request.api_version:
        raise ProtocolError(
            f"the plugin answered in {resp.api_version} but the request is "
            f"{request.api_version}; the kubelet would discard it"
        )
    return encode_response(resp)


def error_line(err: BaseException) -> str:
    """The one line an exception becomes: its message (or its type), line breaks flattened."""
    message = str(err) or type(err).__name__
    return "error: " + " ".join(message.splitlines())


def main(
    handler: Handler,
    *,
    stdin: BinaryIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    context: Context | None = None,
) -> int:
    """Runs one request: reads ``stdin`` (at most 1 MiB), writes the response and a newline to
    ``stdout``, or one line to ``stderr``; returns the exit status (0 or 1). Defaults are the
    process's streams, ``sys.argv[1:]`` and ``os.environ``."""
    stdin = stdin if stdin is not None else sys.stdin.buffer
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    if context is None:
        context = Context(list(sys.argv[1:]), dict(os.environ))
    try:
        data = stdin.read(MAX_REQUEST_BYTES + 1)
        if len(data) > MAX_REQUEST_BYTES:
            raise ProtocolError(f"request on stdin is larger than {MAX_REQUEST_BYTES} bytes")
        json_text = handle(data, handler, context)
    except Exception as err:  # every failure is one line and exit 1, by design
        stderr.write(error_line(err) + "\n")
        stderr.flush()
        return 1
    stdout.write(json_text + "\n")
    stdout.flush()
    return 0


def run(handler: Handler) -> type:
    """The ``wasi:cli/run`` export of a plugin module: ``Run = run(handler)``. Its ``run``
    method calls :func:`main` and reports a failure as the command's error result (exit 1)."""

    class Run:
        def run(self) -> None:
            if main(handler) != 0:
                from componentize_py_types import Err  # only exists inside the component

                raise Err(None)

    return Run
