kind=arguments
#- text
import subprocess


def run(cmd, check, timeout=None):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout)


def build(cmd):
    return run(cmd, True)


def test(cmd):
    return run(cmd, True)
#- edit
9: True) -> True, timeout=)
#- expect
none
#- edit
+ 9: timeout=) -> timeout=600)
#- expect
13: True) -> True, timeout=600)
