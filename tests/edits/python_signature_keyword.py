kind=signature
#- text
import json


def dump(data, path, indent, sort_keys=False):
    with open(path, "w") as f:
        json.dump(data, f, indent=indent, sort_keys=sort_keys)


def save_settings(settings):
    dump(settings, "settings.json", 2)


def save_cache(cache):
    dump(cache, "cache.json", indent=None, sort_keys=True)


def save_raw(data, path):
    dump(data, path)
#- edit
4: path, indent, sort_keys -> path, sort_keys
#- expect
10: , 2) -> )
14: indent=None, sort_keys -> sort_keys
