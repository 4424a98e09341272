kind=literal
#- text
import random


def sample_ids(population):
    return random.sample(population, 10)


def warmup(cache, keys):
    for key in random.sample(keys, 10):
        cache.get(key)


def top_scores(scores):
    return sorted(scores, reverse=True)[:10]
#- edit
5: population, 10) -> population, 25)
#- expect
none
