"""Write a kubelet image credential provider plugin in Python for wasm-credential-provider.

Build it with componentize-py into a ``wasm32-wasip2`` component; everything here also runs
under a native CPython, so plugin logic is unit-tested with pytest (see the README)."""

from .entry import MAX_REQUEST_BYTES, Context, error_line, handle, main, run
from .http import HttpError, form_encode, post_form, request, without_query
from .http import Response as HttpResponse
from .protocol import (
    API_VERSIONS,
    MAX_IMAGE_LENGTH,
    CacheKeyType,
    ProtocolError,
    Request,
    Response,
    ResponseBuilder,
    decode_request,
    encode_response,
    go_duration,
    parse_strict,
    registry_of,
    response,
)

__all__ = [
    "API_VERSIONS", "MAX_IMAGE_LENGTH", "MAX_REQUEST_BYTES", "CacheKeyType", "Context", "HttpError",
    "HttpResponse", "ProtocolError", "Request", "Response", "ResponseBuilder", "decode_request",
    "encode_response", "error_line", "form_encode", "go_duration", "handle", "main", "parse_strict",
    "post_form", "registry_of", "request", "response", "run", "without_query",
]
