#!/usr/bin/env python3
"""A nib plugin (docs/plugins.md) that keeps suggestions and review findings in a house style.

suggestion: `import numpy` becomes `import numpy as np` (and the other aliases in ALIASES); a suggestion that
            leaves a debugger call behind (`breakpoint()`, `pdb.set_trace()`) is dropped.
finding:    findings in generated or vendored code are dropped; the others point at the house rule.

Python 3's standard library only. Copy it, edit ALIASES, DEBUGGER, GENERATED and RULES_URL.
"""
import json
import re
import sys

ALIASES = {"numpy": "np", "pandas": "pd", "matplotlib.pyplot": "plt"}
DEBUGGER = re.compile(r"\bbreakpoint\(\)|\bpdb\.set_trace\(\)")
GENERATED = re.compile(r"(^|/)(generated|vendor|third_party)/|_pb2\.py$")
RULES_URL = "CONTRIBUTING.md"

# Only a whole `import X` line is rewritten: `import numpy.linalg` or `import numpy, os` keep their meaning.
IMPORT = re.compile(r"^([ \t]*)import (%s)[ \t]*$" % "|".join(re.escape(name) for name in ALIASES), re.MULTILINE)


def suggestion(params):
    text = params["text"]
    if DEBUGGER.search(text):
        return {"drop": True}
    styled = IMPORT.sub(lambda m: "%simport %s as %s" % (m.group(1), m.group(2), ALIASES[m.group(2)]), text)
    return {"text": styled} if styled != text else None


def finding(params):
    if GENERATED.search(params["file"]["path"]):
        return {"drop": True}
    return {"note": "House rule: see %s#%s" % (RULES_URL, params["finding"]["rule"])}


HOOKS = {"suggestion": suggestion, "finding": finding}


def read(stream):
    """One message, or None when nib closed our input or broke the framing."""
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        return None  # a frame without its length: the framing is lost, and nib starts us again
    body = stream.read(length)
    return json.loads(body) if len(body) == length else None


def write(stream, message):
    body = json.dumps(dict(message, jsonrpc="2.0")).encode()
    stream.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    stream.flush()


def main():
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        message = read(stdin)
        if message is None or message.get("method") == "exit":
            return
        if "id" not in message:
            continue  # notifications: `initialized`
        method = message.get("method")
        answer = {"id": message["id"], "result": None}  # `shutdown`, and methods of later protocol versions
        if method == "initialize":
            answer["result"] = {"hooks": sorted(HOOKS)}
        elif method in HOOKS:
            # A plugin must answer every request: a bug here fails this one call (nib counts it), not the plugin.
            try:
                answer["result"] = HOOKS[method](message["params"])
            except Exception as err:  # noqa: BLE001
                answer = {"id": message["id"], "error": {"code": -32603, "message": "%s: %r" % (method, err)}}
        write(stdout, answer)


if __name__ == "__main__":
    main()
