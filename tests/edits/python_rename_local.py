kind=rename
#- text
import json


def load_config(path):
    with open(path) as handle:
        raw = handle.read()
    data = json.loads(raw)
    if "name" not in data:
        raise ValueError("missing name in " + path)
    return data


def save_config(path, data):
    raw = json.dumps(data, indent=2)
    with open(path, "w") as handle:
        handle.write(raw)
#- edit
6: raw -> text
#- expect
7: raw -> text
#- edit
7: raw -> text
#- expect
none
