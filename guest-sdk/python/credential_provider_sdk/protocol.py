"""The kubelet's credential provider protocol: the request a plugin reads on stdin and the
response it writes on stdout, with the rules the Rust SDK (and the kubelet) apply: a request is
decoded strictly (unknown, duplicate or mistyped fields refused; ``serviceAccountToken`` and
``serviceAccountAnnotations`` only in v1), and a response answers in the request's apiVersion.
Error messages never quote a value: a request may hold a token."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Mapping

#: The API versions of the protocol, oldest first.
API_VERSIONS = (
    "credentialprovider.kubelet.k8s.io/v1alpha1",
    "credentialprovider.kubelet.k8s.io/v1beta1",
    "credentialprovider.kubelet.k8s.io/v1",
)
#: The version that carries service-account tokens (KEP-4412).
_V1 = "credentialprovider.kubelet.k8s.io/v1"
#: The longest image name accepted, as the host's decoder.
MAX_IMAGE_LENGTH = 4096

_REQUEST_KIND = "CredentialProviderRequest"
_RESPONSE_KIND = "CredentialProviderResponse"


class CacheKeyType:
    """How the kubelet keys its cache of an answer."""

    IMAGE = "Image"
    REGISTRY = "Registry"
    GLOBAL = "Global"
    ALL = (IMAGE, REGISTRY, GLOBAL)


class ProtocolError(ValueError):
    """A request or response that breaks the protocol. The message never quotes a value."""


@dataclass(frozen=True)
class Request:
    """A decoded request."""

    api_version: str
    image: str
    service_account_token: str | None = None
    service_account_annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Response:
    """A response; build one with :class:`ResponseBuilder` (``response(request)``)."""

    api_version: str
    cache_key_type: str
    cache_duration: str | None
    auth: Mapping[str, tuple[str, str]]


def _safe_name(path: str) -> str:
    return path if re.fullmatch(r"[A-Za-z0-9_.\[\]-]{1,128}", path) else "<field>"


class _Duplicate(Exception):
    pass


def _pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def _refuse_constant(_name: str) -> object:
    raise ValueError("NaN and Infinity are not JSON")


def parse_strict(text: str) -> object:
    """Parses ``text`` as exactly one JSON value, refusing duplicate keys (as Kubernetes' strict
    decoder does) and NaN/Infinity. Raises :class:`ProtocolError` saying where, never what."""
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_constant=_refuse_constant)
    except _Duplicate as dup:
        raise ProtocolError(f"duplicate field {_safe_name(str(dup))}") from None
    except json.JSONDecodeError as err:
        raise ProtocolError(f"not JSON at line {err.lineno} column {err.colno}") from None
    except (ValueError, RecursionError):
        raise ProtocolError("not JSON") from None


def _optional_string(obj: Mapping[str, object], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"invalid request: {key} is not a string")
    return value


def decode_request(data: bytes | str) -> Request:
    """Decodes the kubelet's request strictly."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("invalid request: not UTF-8") from None
    try:
        value = parse_strict(data)
    except ProtocolError as err:
        raise ProtocolError(f"invalid request: {err}") from None
    if not isinstance(value, dict):
        raise ProtocolError("invalid request: not a JSON object")
    api_version = _optional_string(value, "apiVersion")
    if api_version is None:
        raise ProtocolError("invalid request: apiVersion is missing")
    if api_version not in API_VERSIONS:
        raise ProtocolError(
            "invalid request: apiVersion is not a credentialprovider.kubelet.k8s.io version this SDK speaks"
        )
    allowed = {"kind", "apiVersion", "image"}
    if api_version == _V1:
        allowed |= {"serviceAccountToken", "serviceAccountAnnotations"}
    for key in value:
        if key not in allowed:
            raise ProtocolError(f"invalid request: unknown field {_safe_name(key)}")
    if (_optional_string(value, "kind") or "") != _REQUEST_KIND:
        raise ProtocolError(f"invalid request: kind is not {_REQUEST_KIND}")
    image = _optional_string(value, "image") or ""
    if not image:
        raise ProtocolError("invalid request: image is missing")
    if len(image) > MAX_IMAGE_LENGTH or any(c.isspace() or _is_control(c) for c in image):
        raise ProtocolError(
            "invalid request: image is too long or holds whitespace or control characters"
        )
    token = _optional_string(value, "serviceAccountToken") or None
    annotations: dict[str, str] = {}
    raw = value.get("serviceAccountAnnotations")
    if raw is not None:
        if not isinstance(raw, dict):
            raise ProtocolError("invalid request: serviceAccountAnnotations is not an object")
        for key in sorted(raw):
            annotation = raw[key]
            if annotation is not None and not isinstance(annotation, str):
                raise ProtocolError(
                    "invalid request: a serviceAccountAnnotations value is not a string"
                )
            annotations[key] = annotation or ""
    return Request(api_version, image, token, annotations)


def _is_control(c: str) -> bool:
    return ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F


def registry_of(image: str) -> str:
    """The registry part of an image: everything before the first ``/`` (the kubelet's key for
    ``cacheKeyType: Registry``)."""
    return image.split("/", 1)[0]


def go_duration(seconds: int) -> str:
    """A whole number of seconds as a Go duration (``3600`` → ``1h0m0s``), the form
    ``cacheDuration`` takes."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise ValueError("a Go duration here is a non-negative whole number of seconds")
    if seconds == 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


#: Go's ``time.ParseDuration`` syntax (unsigned), which the kubelet uses for ``cacheDuration``.
_GO_DURATION = re.compile(r"(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)")


class ResponseBuilder:
    """Builds a response in the request's API version. Defaults: ``cacheKeyType: Registry``, no
    ``cacheDuration`` (the provider's ``defaultCacheDuration`` applies), no credentials."""

    def __init__(self, request: Request):
        self._api_version = request.api_version
        self._cache_key_type = CacheKeyType.REGISTRY
        self._cache_duration: str | None = None
        self._auth: dict[str, tuple[str, str]] = {}

    def cache_key_type(self, value: str) -> "ResponseBuilder":
        """How the kubelet keys its cache of this answer: one of :class:`CacheKeyType`."""
        if value not in CacheKeyType.ALL:
            raise ProtocolError("cacheKeyType must be Image, Registry or Global")
        self._cache_key_type = value
        return self

    def cache_duration(self, value: str | int) -> "ResponseBuilder":
        """How long the kubelet may reuse the answer: a Go duration (``"10m"``) or whole seconds."""
        text = go_duration(value) if isinstance(value, int) else value
        if not isinstance(text, str) or not _GO_DURATION.fullmatch(text):
            raise ProtocolError("cacheDuration must be a Go duration such as 10m or 1h0m0s")
        self._cache_duration = text
        return self

    def credential(self, key: str, username: str, password: str) -> "ResponseBuilder":
        """Adds credentials for images matching ``key`` (a registry host, ``host/path``, or a glob)."""
        if not isinstance(key, str) or not key:
            raise ProtocolError("an auth key must be a non-empty string")
        if not isinstance(username, str) or not isinstance(password, str):
            raise ProtocolError("a username and password must be strings")
        self._auth[key] = (username, password)
        return self

    def build(self) -> Response:
        """The finished response."""
        return Response(
            self._api_version, self._cache_key_type, self._cache_duration, dict(self._auth)
        )


def response(request: Request) -> ResponseBuilder:
    """Starts a response to ``request``: ``response(request).credential(...).build()``."""
    return ResponseBuilder(request)


def encode_response(resp: Response) -> str:
    """The response as the kubelet reads it: compact JSON, fields in the kubelet's order, auth
    keys sorted (the same bytes the Rust SDK writes)."""
    wire: dict[str, object] = {
        "kind": _RESPONSE_KIND,
        "apiVersion": resp.api_version,
        "cacheKeyType": resp.cache_key_type,
    }
    if resp.cache_duration is not None:
        wire["cacheDuration"] = resp.cache_duration
    wire["auth"] = {
        key: {"username": resp.auth[key][0], "password": resp.auth[key][1]}
        for key in sorted(resp.auth)
    }
    return json.dumps(wire, separators=(",", ":"), ensure_ascii=False)
