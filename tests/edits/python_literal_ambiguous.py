kind=literal
#- text
MAX_RETRIES = 10
PAGE_SIZE = 10


def pages(items):
    for start in range(0, len(items), PAGE_SIZE):
        yield items[start:start + PAGE_SIZE]


def backoff(attempt):
    return min(2 ** attempt, 10)
#- edit
1: 10 -> 5
#- expect
none
