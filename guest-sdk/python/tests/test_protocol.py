import io
import json

import pytest

from credential_provider_sdk import (
    API_VERSIONS, CacheKeyType, Context, ProtocolError, decode_request, encode_response, go_duration,
    handle, main, parse_strict, registry_of, response,
)

V1 = "credentialprovider.kubelet.k8s.io/v1"
V1BETA1 = "credentialprovider.kubelet.k8s.io/v1beta1"


def req(**fields):
    body = {"kind": "CredentialProviderRequest", "apiVersion": V1, "image": "r.io/a"}
    for key, value in fields.items():
        if value is ...:
            body.pop(key, None)
        else:
            body[key] = value
    return json.dumps(body)


def test_decodes_every_version_and_the_v1_token_fields():
    for version in API_VERSIONS:
        r = decode_request(req(apiVersion=version))
        assert (r.api_version, r.image, r.service_account_token) == (version, "r.io/a", None)
    r = decode_request(req(serviceAccountToken="jwt", serviceAccountAnnotations={"b": "2", "a": None}).encode())
    assert r.service_account_token == "jwt"
    assert dict(r.service_account_annotations) == {"a": "", "b": "2"}
    assert decode_request(req(serviceAccountToken="")).service_account_token is None
    assert decode_request(req(serviceAccountToken=None)).service_account_token is None


@pytest.mark.parametrize("data", [
    req(apiVersion="credentialprovider.kubelet.k8s.io/v2"),
    req(apiVersion=...),
    req(kind="CredentialProviderResponse"),
    req(kind=...),
    req(image=""),
    req(image=...),
    req(image=7),
    req(image="r.io/a b"),
    req(image="r.io/\u0007"),
    req(image="r.io/" + "a" * 4096),
    req(Image="x"),
    req(secret="hunter2"),
    req(apiVersion=V1BETA1, serviceAccountToken="hunter2"),
    req(serviceAccountToken=42),
    req(serviceAccountAnnotations=["x"]),
    req(serviceAccountAnnotations={"k": 1}),
    '{"kind":"CredentialProviderRequest","apiVersion":"%s","image":"r.io/a","image":"hunter2"}' % V1,
    req() + " {}",
    "[]",
    "hunter2",
    '{"kind":"CredentialProviderRequest","apiVersion":"%s","image":"r.io/a","x":NaN}' % V1,
    b"\xff\xfe",
])
def test_refuses_what_the_kubelet_refuses_without_quoting(data):
    with pytest.raises(ProtocolError) as caught:
        decode_request(data)
    message = str(caught.value)
    assert message.startswith("invalid request: "), message
    assert "hunter2" not in message


def test_strict_json_names_duplicate_paths_only():
    assert parse_strict(' {"a":[1,{"b":2}]} ') == {"a": [1, {"b": 2}]}
    with pytest.raises(ProtocolError, match="duplicate field b"):
        parse_strict('{"a":{"b":1,"b":2}}')
    with pytest.raises(ProtocolError) as caught:
        parse_strict('{"hunter2 key":1,"hunter2 key":2}')
    assert "hunter2" not in str(caught.value)


def test_builds_and_encodes_like_the_rust_sdk():
    request = decode_request(req(apiVersion=V1BETA1))
    resp = (response(request).cache_key_type(CacheKeyType.IMAGE).cache_duration(3600)
            .credential("z.io", "u2", "p2").credential("a.io", "u", "p").build())
    assert encode_response(resp) == (
        '{"kind":"CredentialProviderResponse","apiVersion":"%s","cacheKeyType":"Image",'
        '"cacheDuration":"1h0m0s","auth":{"a.io":{"username":"u","password":"p"},'
        '"z.io":{"username":"u2","password":"p2"}}}' % V1BETA1)
    assert encode_response(response(request).build()) == (
        '{"kind":"CredentialProviderResponse","apiVersion":"%s","cacheKeyType":"Registry","auth":{}}' % V1BETA1)
    with pytest.raises(ProtocolError):
        response(request).cache_key_type("Pod")
    with pytest.raises(ProtocolError):
        response(request).cache_duration("ten minutes")
    assert response(request).cache_duration("1.5h").build().cache_duration == "1.5h"
    with pytest.raises(ProtocolError):
        response(request).credential("", "u", "p")


def test_go_durations_of_whole_seconds():
    assert [go_duration(s) for s in (0, 45, 90, 3600, 90061)] == ["0s", "45s", "1m30s", "1h0m0s", "25h1m1s"]
    for bad in (-1, 1.5, True, "60"):
        with pytest.raises(ValueError):
            go_duration(bad)


def test_registry_of():
    assert registry_of("registry.io:5000/a/b") == "registry.io:5000"
    assert registry_of("registry.io") == "registry.io"


def test_handle_answers_in_the_request_version_and_refuses_another():
    def provide(r, ctx):
        assert ctx.args == ["--x"]
        return response(r).credential("r.io", "u", ctx.env["TOKEN"]).build()

    out = handle(req(apiVersion=V1BETA1), provide, Context(["--x"], {"TOKEN": "t"}))
    assert f'"apiVersion":"{V1BETA1}"' in out and '"r.io":{"username":"u","password":"t"}' in out
    from credential_provider_sdk import Response
    with pytest.raises(ProtocolError, match="the kubelet would discard it"):
        handle(req(apiVersion=V1BETA1), lambda r, c: Response(V1, "Image", None, {}))
    with pytest.raises(ProtocolError, match="returned no response"):
        handle(req(), lambda r, c: None)


def test_main_writes_one_response_or_one_error_line():
    out, err = io.StringIO(), io.StringIO()
    status = main(lambda r, c: response(r).build(), stdin=io.BytesIO(req().encode()), stdout=out,
                  stderr=err, context=Context())
    assert (status, err.getvalue()) == (0, "")
    assert out.getvalue().endswith("}\n") and out.getvalue().count("\n") == 1

    def fail(r, c):
        raise RuntimeError("no creds\nsecond line")

    out, err = io.StringIO(), io.StringIO()
    status = main(fail, stdin=io.BytesIO(req().encode()), stdout=out, stderr=err, context=Context())
    assert (status, out.getvalue(), err.getvalue()) == (1, "", "error: no creds second line\n")

    out, err = io.StringIO(), io.StringIO()
    status = main(fail, stdin=io.BytesIO(b" " * (1024 * 1024 + 1)), stdout=out, stderr=err, context=Context())
    assert (status, err.getvalue()) == (1, "error: request on stdin is larger than 1048576 bytes\n")
