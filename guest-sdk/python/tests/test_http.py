"""The HTTP helper natively, against a real loopback server (http.server in a thread)."""

import http.server
import socket
import threading

import pytest

from credential_provider_sdk import HttpError, form_encode, post_form, request

SEEN = []


class Handler(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        length = self.headers.get("Content-Length")
        body = self.rfile.read(int(length)) if length else b""
        SEEN.append((self.command, self.path, dict(self.headers.items()), body))
        path = self.path.split("?")[0]
        if path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, payload = (200, b'{"token":"t"}') if path == "/json" else (418, b"secret-body")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def base():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_posts_a_form_with_content_length(base):
    reply = post_form(f"{base}/json?x=1", [("a", "b c"), ("d", "é/")], {"Accept": "application/json"})
    assert reply.status == 200 and reply.json() == {"token": "t"}
    assert reply.headers["content-type"] == "application/json"
    method, path, headers, body = SEEN[-1]
    assert (method, path, body) == ("POST", "/json?x=1", b"a=b%20c&d=%C3%A9%2F")
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["content-length"] == str(len(body))
    assert "transfer-encoding" not in lowered
    assert lowered["content-type"] == "application/x-www-form-urlencoded"


def test_statuses_and_redirects_are_returned_and_errors_never_quote_bodies(base):
    redirect = request("GET", f"{base}/redirect")
    assert redirect.status == 302 and redirect.headers["location"] == "/elsewhere"
    teapot = request("GET", f"{base}/other")
    assert teapot.status == 418
    with pytest.raises(HttpError, match="^server answered with status 418$"):
        teapot.error_for_status()
    with pytest.raises(HttpError) as caught:
        teapot.json()
    assert "secret-body" not in str(caught.value)


def test_bad_urls_and_unreachable_servers_fail_with_http_error():
    for url in ("ftp://x/", "/relative", "http://user@h/"):
        with pytest.raises(HttpError):
            request("GET", url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(HttpError) as caught:
        request("GET", f"http://127.0.0.1:{port}/t?secret=1")
    assert str(caught.value).startswith("ConnectionRefusedError"), caught.value
    assert "secret" not in str(caught.value) and str(port) not in str(caught.value)


def test_form_encoding_keeps_only_rfc3986_unreserved_characters():
    assert form_encode([("a b", "x+y/z~!*'()")]) == "a%20b=x%2By%2Fz~%21%2A%27%28%29"
