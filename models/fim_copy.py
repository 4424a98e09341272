#!/usr/bin/env python3
"""Make a copy of a model (SmolLM2, the default) that declares fill-in-the-middle tokens.

usage: models/fim_copy.py MODEL.gguf      (prints the copy's path)

MODEL.gguf is the installed default model, the path `nib models pull` prints.

Neither packaged model declares FIM tokens, so nib's FIM templates (`psm`, `spm`)
would never run on real llama.cpp. This copy of the default model (SmolLM2) sets
tokenizer.ggml.fim_*_token_id to six of its unused control tokens (StarCoder
leftovers, ids 3-8). Its completions are meaningless text; its prompts, token
counts and latencies are real, which is what the tests and benchmarks need.

The copy is <stem>-fim.gguf beside MODEL.gguf, written by `gguf-new-metadata`
from the PyPI package `gguf` (pinned, in a venv in the models folder's parent,
which is $NIB_HOME for an installed model) to a temporary name and then renamed.
Does nothing when a copy with these ids is already there.
"""
import os
import subprocess
import sys
from pathlib import Path

GGUF = "gguf==0.19.0"
# Special token -> id; every id a control token of SmolLM2's vocabulary (text in the comment).
# rep and sep keep the tokens whose texts say so; llama.cpp ends generation on pad, rep and sep.
FIM_IDS = {
    "fim_pre": 6,  # <filename>
    "fim_suf": 7,  # <gh_stars>
    "fim_mid": 8,  # <issue_start>
    "fim_pad": 4,  # <reponame>
    "fim_rep": 3,  # <repo_name>
    "fim_sep": 5,  # <file_sep>
}


def venv(source: Path) -> Path:
    # The models folder's parent: $NIB_HOME for an installed model, so the venv lives beside the models
    # (once per machine) and never in the clone.
    return source.resolve().parent.parent / "venv-gguf"


def venv_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    marker = venv / (GGUF + ".installed")
    if not marker.exists():
        print(f"fim_copy: installing {GGUF} in {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", GGUF], check=True)
        marker.touch()
    return python


def declared_ids(path: Path) -> dict:
    """The FIM ids a GGUF file declares (needs the venv's gguf)."""
    import gguf

    fields = gguf.GGUFReader(path).fields
    return {
        name: int(fields[key].contents())
        for name in FIM_IDS
        if (key := f"tokenizer.ggml.{name}_token_id") in fields
    }


def check_control_tokens(path: Path) -> None:
    import gguf

    fields = gguf.GGUFReader(path).fields
    tokens, types = fields["tokenizer.ggml.tokens"], fields["tokenizer.ggml.token_type"]
    for name, i in FIM_IDS.items():
        text = bytes(tokens.parts[tokens.data[i]]).decode()
        kind = int(types.parts[types.data[i]][0])
        if kind != gguf.TokenType.CONTROL:
            sys.exit(f"fim_copy: token {i} {text!r} ({name}) is not a control token in {path}")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: models/fim_copy.py MODEL.gguf   (the path `nib models pull` prints)")
    source = Path(sys.argv[1])
    if not source.is_file():
        sys.exit(f"fim_copy: no model at {source}: run `nib models pull` first")
    env = venv(source)
    python = venv_python(env)
    if Path(sys.prefix).resolve() != env.resolve():
        os.execv(python, [str(python), __file__, *sys.argv[1:]])  # again, with gguf importable

    dest = source.with_name(source.stem + "-fim.gguf")
    if dest.exists() and declared_ids(dest) == FIM_IDS:
        print(dest)
        return
    check_control_tokens(source)

    part = dest.with_name(f"{dest.name}.{os.getpid()}.part")
    args = [str(python.parent / "gguf-new-metadata"), str(source), str(part), "--force"]
    args += ["--general-description", "FIM test copy of the default model: FIM ids on unused control tokens"]
    for name, i in FIM_IDS.items():
        args += ["--special-token-by-id", name, str(i)]
    try:
        run = subprocess.run(args, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"fim_copy: gguf-new-metadata failed:\n{run.stdout}{run.stderr}")
        if declared_ids(part) != FIM_IDS:
            sys.exit(f"fim_copy: {part} does not declare {FIM_IDS}")
        part.replace(dest)
    finally:
        part.unlink(missing_ok=True)
    print(dest)


if __name__ == "__main__":
    main()
