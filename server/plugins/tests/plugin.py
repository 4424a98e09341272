#!/usr/bin/env python3
"""A plugin for the host's tests; argv[1] says how it behaves:
upper: upper-cases suggestions; crash: exits at its first hook call; hang: never answers a hook call;
garbage: writes bytes that are not a message at its first hook call; drop: drops every suggestion;
refuse: refuses every prompt; no-init: never answers initialize."""
import json
import sys

MODE = sys.argv[1]
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer


def read():
    length = None
    while True:
        line = stdin.readline()
        if not line:
            sys.exit(0)
        line = line.strip()
        if not line:
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return json.loads(stdin.read(length))


def write(message):
    body = json.dumps(message).encode()
    stdout.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    stdout.flush()


while True:
    message = read()
    method, id_ = message.get("method"), message.get("id")
    if method == "initialize":
        if MODE != "no-init":
            write({"jsonrpc": "2.0", "id": id_, "result": {"hooks": ["prompt", "suggestion", "finding"]}})
        continue
    if id_ is None:
        continue
    if method == "shutdown":
        write({"jsonrpc": "2.0", "id": id_, "result": None})
        continue
    if MODE == "crash":
        sys.exit(3)
    if MODE == "hang":
        continue
    if MODE == "garbage":
        stdout.write(b"this is not a message\r\n\r\n")
        stdout.flush()
        continue
    params = message["params"]
    result = None
    if method == "suggestion" and MODE == "upper":
        result = {"text": params["text"].upper()}
    elif method == "suggestion" and MODE == "drop":
        result = {"drop": True}
    elif method == "prompt" and MODE == "refuse":
        result = {"refuse": "not this file"}
    elif method == "prompt" and MODE == "upper":
        result = {"prefix": params["prefix"].upper()}
    elif method == "finding" and MODE == "upper":
        result = {"note": "house rule " + params["finding"]["rule"], "severity": "warning"}
    write({"jsonrpc": "2.0", "id": id_, "result": result})
