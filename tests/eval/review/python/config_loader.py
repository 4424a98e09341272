"""Settings for the ingest worker: a JSON file, then environment overrides."""

import json
import os

DEFAULTS = {
    "batch_size": 500,
    "queue": "ingest",
    "retries": 3,
    "verbose": False,
    "endpoints": [],
}

ENV_PREFIX = "INGEST_"


def read_file(path: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except Exception:
        return {}


def parse_value(raw: str, like):
    if type(like) == bool:
        return raw.lower() in ("1", "true", "yes")
    if isinstance(like, int):
        return int(raw)
    if isinstance(like, list):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def env_overrides(defaults: dict) -> dict:
    overrides = {}
    for key, value in defaults.items():
        raw = os.environ.get(ENV_PREFIX + key.upper())
        if raw is not None:
            overrides[key] = parse_value(raw, value)
    return overrides


def load(path: str) -> dict:
    settings = dict(DEFAULTS)
    settings.update(read_file(path))
    settings.update(env_overrides(DEFAULTS))
    return settings


def describe(settings: dict) -> str:
    return "\n".join(f"{key} = {settings[key]!r}" for key in sorted(settings))
