"""token-exchange in Python: registry credentials from an OAuth 2.0 token exchange (RFC 8693).
The twin of example-plugins/token-exchange (Rust) and token-exchange-js: the three answer byte for
byte alike, so every message here has its twin there."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from credential_provider_sdk import (
    CacheKeyType, Context, HttpError, Request, Response, go_duration, post_form, response,
    without_query,
)

#: The environment variable holding the subject token when the request carries none.
TOKEN_ENV = "EXCHANGE_TOKEN"
#: The username registries expect beside an OAuth access token.
DEFAULT_USERNAME = "oauth2accesstoken"
#: RFC 8693 2.1: the grant type of a token exchange.
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
#: RFC 8693 3: the subject token is a JWT.
SUBJECT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
#: The largest ``expires_in`` a Go duration holds.
MAX_EXPIRES_IN = 9_223_372_036
#: The longest ``error`` code quoted in a message.
MAX_ERROR_CODE = 64
FLAGS = ("endpoint", "registry", "audience", "username")


class PluginError(Exception):
    """A failure reported as the plugin's one stderr line."""


@dataclass(frozen=True)
class Settings:
    """The plugin's settings from its arguments (each ``--name=value``)."""

    endpoint: str
    registry: str
    audience: str | None
    username: str

    @staticmethod
    def from_args(args: list[str]) -> "Settings":
        values: dict[str, str] = {}
        for arg in args:
            name, eq, value = arg.partition("=")
            key = name[2:] if name.startswith("--") else None
            if not eq:
                if key in FLAGS:
                    raise PluginError(f"--{key} needs a value (--{key}=VALUE)")
                raise PluginError(_unknown_argument(arg))
            if key not in FLAGS:
                raise PluginError(_unknown_argument(arg))
            if not value:
                raise PluginError(f"{name} needs a value ({name}=VALUE)")
            if key in values:
                raise PluginError(f"{name} is given twice")
            values[key] = value
        endpoint = values.get("endpoint")
        if endpoint is None:
            raise PluginError("--endpoint=URL is required")
        if not endpoint.startswith(("http://", "https://")):
            raise PluginError("--endpoint must be an http:// or https:// URL")
        if "registry" not in values:
            raise PluginError("--registry=HOST is required")
        return Settings(endpoint, values["registry"], values.get("audience"),
                        values.get("username", DEFAULT_USERNAME))


def _unknown_argument(arg: str) -> str:
    name = arg.split("=", 1)[0]
    return (f"unknown argument {name} (token-exchange takes --endpoint=, --registry=, "
            "--audience= and --username=)")


def provide(request: Request, context: Context) -> Response:
    """Answers ``request``: exchanges the subject token at the endpoint, answers with the access
    token."""
    settings = Settings.from_args(context.args)
    subject = request.service_account_token or context.env.get(TOKEN_ENV) or None
    if subject is None:
        raise PluginError(
            f"no subject token: the request has no serviceAccountToken and {TOKEN_ENV} is not set "
            f"(grant it with --env {TOKEN_ENV})")
    fields = [
        ("grant_type", GRANT_TYPE),
        ("subject_token", subject),
        ("subject_token_type", SUBJECT_TOKEN_TYPE),
    ]
    if settings.audience is not None:
        fields.append(("audience", settings.audience))
    endpoint = without_query(settings.endpoint)
    try:
        reply = post_form(settings.endpoint, fields, {"Accept": "application/json"})
    except HttpError as err:
        raise PluginError(f"token exchange at {endpoint} failed: {err}") from None
    if reply.status != 200:
        code = error_code(reply.body, subject)
        if code is None:
            raise PluginError(f"token endpoint {endpoint} answered status {reply.status} "
                              "without an RFC 6749 error code")
        raise PluginError(f"token endpoint {endpoint} answered status {reply.status} with error {code}")
    try:
        access_token, expires_in = parse_grant(reply.body)
    except ValueError as err:
        raise PluginError(f"token endpoint {endpoint} answered 200 but not a token: {err}") from None
    answer = (response(request)
              .cache_key_type(CacheKeyType.REGISTRY)
              .credential(settings.registry, settings.username, access_token))
    if expires_in is not None:
        answer.cache_duration(go_duration(expires_in))
    return answer.build()


def _refuse_constant(_name: str) -> object:
    raise ValueError("NaN and Infinity are not JSON")


def _json(body: bytes) -> object:
    """The body as JSON, or None; NaN and Infinity refused, as the Rust and JS twins do."""
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except ValueError:
        return None


def parse_grant(body: bytes) -> tuple[str, int | None]:
    """``access_token`` and ``expires_in`` of a token response; the error never quotes the body."""
    value = _json(body)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    access_token = value.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise ValueError("access_token is missing or empty")
    expires = value.get("expires_in")
    if expires is None:
        return access_token, None
    whole = (isinstance(expires, int) and not isinstance(expires, bool)) or (
        isinstance(expires, float) and expires.is_integer())
    if not whole or not 0 <= expires <= MAX_EXPIRES_IN:
        raise ValueError("expires_in is not a whole number of seconds a Go duration holds")
    return access_token, int(expires)


def error_code(body: bytes, subject: str) -> str | None:
    """The RFC 6749 (5.2) ``error`` code of an error reply, if it is one: lowercase letters,
    digits and ``_``, at most 64 long, and not the subject token; anything else is never quoted."""
    value = _json(body)
    code = value.get("error") if isinstance(value, dict) else None
    if (not isinstance(code, str) or len(code) > MAX_ERROR_CODE
            or not re.fullmatch(r"[a-z][a-z0-9_]*", code) or code == subject):
        return None
    return code
