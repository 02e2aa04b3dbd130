#!/usr/bin/env python3
"""Writes fuzz/seeds/<target>/ from the kubelet's conformance vectors
(../shared/spec/conformance-vectors.json beside the repository, or the path given),
plus a few hand-picked inputs per target. Run again when the vectors change."""
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    HERE, "..", "..", "shared", "spec", "conformance-vectors.json")
API = ["credentialprovider.kubelet.k8s.io/v1alpha1",
       "credentialprovider.kubelet.k8s.io/v1beta1",
       "credentialprovider.kubelet.k8s.io/v1"]


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    directory = os.path.join(HERE, "seeds", target)
    os.makedirs(directory, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main():
    with open(VECTORS) as f:
        vectors = json.load(f)
    for case in vectors["matching"]:
        if "pattern" in case and "image" in case:
            write("image_matching", f"{case['pattern']}\n{case['image']}")
    for case in vectors["responses"]:
        version = case.get("requestApiVersion", API[2])
        selector = API.index(version) if version in API else 2
        write("response_decode", bytes([selector]) + case["raw"].encode())
        write("response_decode", bytes([selector | 4]) + case["raw"].encode())
    for case in vectors["extras"]["requestEncoding"]:
        write("request_decode", case["stdinBytes"])
    for case in vectors["config"]:
        for file in case["input"].get("files", []) if isinstance(case["input"], dict) else []:
            write("config_decode", file["content"])
        if case.get("stage") == "validate":
            write("config_decode", json.dumps(case["input"]))
    write("request_decode", '{"kind":"CredentialProviderRequest","apiVersion":"'
          + API[2] + '","image":"r.io/a","serviceAccountToken":"t",'
          '"serviceAccountAnnotations":{"a/b":"c"}}\n')
    for allow, resolve, host, port, path in [
        ("api.ecr.*.amazonaws.com", "", "api.ecr.us-west-2.amazonaws.com", "443", "/"),
        ("http://169.254.169.254/latest", "", "169.254.169.254", "80", "/latest/api/token"),
        ("https://[fd00:ec2::254]:8443/v1", "", "fd00:ec2::254", "8443", "/v1/x"),
        ("*.azurecr.io/oauth2", "r.azurecr.io:443:127.0.0.1", "r.azurecr.io", "443",
         "/oauth2/exchange"),
        ("sts.googleapis.com/v1", "", "sts.googleapis.com", "443", "/v1/../v2"),
    ]:
        write("egress_pattern", "\n".join([allow, resolve, host, port, path]))


if __name__ == "__main__":
    main()
