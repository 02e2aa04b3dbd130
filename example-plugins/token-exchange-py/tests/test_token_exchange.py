"""The plugin's logic natively, against a real loopback token endpoint (http.server in a thread)
that checks the form and refuses chunked bodies, as the end-to-end tests' server does."""

import http.server
import json
import threading

import pytest

from credential_provider_sdk import Context, handle
from token_exchange import PluginError, Settings, error_code, parse_grant, provide

V1 = "credentialprovider.kubelet.k8s.io/v1"
V1BETA1 = "credentialprovider.kubelet.k8s.io/v1beta1"
RECEIVED = []
REPLY = {}


def request(api_version, **extra):
    return json.dumps({"kind": "CredentialProviderRequest", "apiVersion": api_version,
                       "image": "registry.example.com/app", **extra})


class TokenEndpoint(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = self.headers.get("Content-Length")
        if length is None or self.headers.get("Transfer-Encoding") is not None:
            self._send(411, b'{"error":"invalid_request"}')
            return
        body = self.rfile.read(int(length)).decode()
        RECEIVED.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self._send(REPLY["status"], REPLY["body"].encode())

    def _send(self, status, payload):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def endpoint():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/token"
    server.shutdown()


@pytest.fixture(autouse=True)
def fresh():
    RECEIVED.clear()
    REPLY.update(status=200, body='{"access_token":"at-123","token_type":"Bearer","expires_in":3600}')


def args(endpoint, *extra):
    return [f"--endpoint={endpoint}?tenant=t1", "--registry=registry.example.com", *extra]


def test_exchanges_the_env_token_and_answers_in_the_request_version(endpoint):
    out = handle(request(V1BETA1), provide, Context(args(endpoint), {"EXCHANGE_TOKEN": "env.jwt"}))
    assert out == (
        '{"kind":"CredentialProviderResponse","apiVersion":"%s","cacheKeyType":"Registry",'
        '"cacheDuration":"1h0m0s","auth":{"registry.example.com":{"username":"oauth2accesstoken",'
        '"password":"at-123"}}}' % V1BETA1)
    assert len(RECEIVED) == 1
    path, headers, body = RECEIVED[0]
    assert path == "/token?tenant=t1"
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert body == ("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"
                    "&subject_token=env.jwt&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt")


def test_the_request_token_wins_and_audience_and_username_apply(endpoint):
    REPLY["body"] = '{"access_token":"at-9","expires_in":90}'
    out = handle(request(V1, serviceAccountToken="sa.jwt.token"), provide,
                 Context(args(endpoint, "--audience=registry reader", "--username=robot"),
                         {"EXCHANGE_TOKEN": "env.jwt"}))
    assert '"cacheDuration":"1m30s"' in out
    assert '"registry.example.com":{"username":"robot","password":"at-9"}' in out
    body = RECEIVED[0][2]
    assert "&subject_token=sa.jwt.token&" in body and body.endswith("&audience=registry%20reader")


def test_without_any_token_nothing_is_sent(endpoint):
    for env in ({}, {"EXCHANGE_TOKEN": ""}):
        with pytest.raises(PluginError) as caught:
            handle(request(V1), provide, Context(args(endpoint), env))
        assert str(caught.value) == (
            "no subject token: the request has no serviceAccountToken and EXCHANGE_TOKEN is not set "
            "(grant it with --env EXCHANGE_TOKEN)")
    assert RECEIVED == []


def test_an_error_status_names_status_and_code_never_the_token(endpoint):
    REPLY.update(status=400, body='{"error":"invalid_grant","error_description":"token env.jwt expired"}')
    with pytest.raises(PluginError) as caught:
        handle(request(V1), provide, Context(args(endpoint), {"EXCHANGE_TOKEN": "env.jwt"}))
    assert str(caught.value) == f"token endpoint {endpoint} answered status 400 with error invalid_grant"
    for body in ("not json", '{"error":"env.jwt"}', '{"error":"Bad Code"}', '{"error":7}'):
        REPLY.update(status=401, body=body)
        with pytest.raises(PluginError) as caught:
            handle(request(V1), provide, Context(args(endpoint), {"EXCHANGE_TOKEN": "env.jwt"}))
        assert str(caught.value) == (
            f"token endpoint {endpoint} answered status 401 without an RFC 6749 error code"), body
    assert error_code(b'{"error":"abc"}', "abc") is None


WHY = "expires_in is not a whole number of seconds a Go duration holds"


@pytest.mark.parametrize("body,message", [
    ("[]", "not a JSON object"),
    ("<html>secret-at</html>", "not a JSON object"),
    ('{"access_token":""}', "access_token is missing or empty"),
    ('{"access_token":"secret-at","expires_in":"3600"}', WHY),
    ('{"access_token":"secret-at","expires_in":1.5}', WHY),
    ('{"access_token":"secret-at","expires_in":-1}', WHY),
    ('{"access_token":"secret-at","expires_in":1e12}', WHY),
    ('{"access_token":"secret-at","expires_in":true}', WHY),
    ('{"access_token":"secret-at","expires_in":NaN}', "not a JSON object"),
])
def test_a_malformed_grant_is_refused_without_quoting_it(body, message):
    with pytest.raises(ValueError) as caught:
        parse_grant(body.encode())
    assert str(caught.value) == message


def test_whole_floats_and_missing_expiry():
    assert parse_grant(b'{"access_token":"at","expires_in":3600.0}') == ("at", 3600)
    assert parse_grant(b'{"access_token":"at"}') == ("at", None)


def test_a_transport_failure_names_the_endpoint():
    with pytest.raises(PluginError) as caught:
        handle(request(V1), provide, Context(["--endpoint=http://127.0.0.1:9/token?x=1", "--registry=r"],
                                             {"EXCHANGE_TOKEN": "e"}))
    assert str(caught.value).startswith("token exchange at http://127.0.0.1:9/token failed: ")


@pytest.mark.parametrize("arguments,message", [
    (["--registry=r"], "--endpoint=URL is required"),
    (["--endpoint=http://e/"], "--registry=HOST is required"),
    (["--endpoint=ftp://e/", "--registry=r"], "--endpoint must be an http:// or https:// URL"),
    (["--endpoint"], "--endpoint needs a value (--endpoint=VALUE)"),
    (["--audience="], "--audience needs a value (--audience=VALUE)"),
    (["--registry=a", "--registry=b"], "--registry is given twice"),
    (["--scope=x"], "unknown argument --scope (token-exchange takes --endpoint=, --registry=, --audience= and --username=)"),
    (["get-credentials"], "unknown argument get-credentials (token-exchange takes --endpoint=, --registry=, --audience= and --username=)"),
])
def test_arguments_are_checked(arguments, message):
    with pytest.raises(PluginError) as caught:
        Settings.from_args(arguments)
    assert str(caught.value) == message


def test_defaults():
    s = Settings.from_args(["--endpoint=https://sts.example/t", "--registry=r.io"])
    assert (s.username, s.audience) == ("oauth2accesstoken", None)
