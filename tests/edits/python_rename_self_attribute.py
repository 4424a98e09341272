kind=rename
#- text
class Counter:
    def __init__(self):
        self.count = 0

    def add(self, n=1):
        self.count += n
        return self.count

    def reset(self):
        previous = self.count
        self.count = 0
        return previous


class Histogram:
    def __init__(self):
        self.count = 0
        self.buckets = {}

    def add(self, key):
        self.count += 1
        self.buckets[key] = self.buckets.get(key, 0) + 1
#- edit
3: count -> total
#- expect
6: count -> total
7: count -> total
10: count -> total
11: count -> total
