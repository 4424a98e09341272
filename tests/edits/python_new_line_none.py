kind=rename
#- text
import os


def cache_dir(app):
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, app)


def config_dir(app):
    return os.path.join(os.path.expanduser("~/.config"), app)
#- edit
10: return os.path.join( -> base = os.environ.get("XDG_CONFIG_HOME")\n    return os.path.join(
#- expect
none
