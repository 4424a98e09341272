"""Runs periodic jobs in one thread: each job has an interval and a next run time."""

import heapq
import logging
import time
from dataclasses import dataclass, field
from typing import Callable

log = logging.getLogger(__name__)


@dataclass(order=True)
class Job:
    due: float
    name: str = field(compare=False)
    interval: float = field(compare=False)
    action: Callable[[], None] = field(compare=False)


class Scheduler:
    def __init__(self, clock=time.monotonic, sleep=time.sleep):
        self.clock = clock
        self.sleep = sleep
        self.queue = []
        self.stopped = False

    def every(self, seconds: float, name: str, action: Callable[[], None]) -> None:
        heapq.heappush(self.queue, Job(self.clock() + seconds, name, seconds, action))

    def stop(self) -> None:
        self.stopped = True

    def run_pending(self) -> int:
        n = 0
        now = self.clock()
        while self.queue and self.queue[0].due <= now:
            job = heapq.heappop(self.queue)
            try:
                job.action()
            except Exception:
                log.exception("job %s failed", job.name)
            job.due = now + job.interval
            heapq.heappush(self.queue, job)
            n += 1
        return n

    def run(self) -> None:
        while not self.stopped:
            self.run_pending()
            if self.queue:
                self.sleep(max(0.0, self.queue[0].due - self.clock()))

    def names(self) -> list:
        result = []
        for i in range(len(self.queue)):
            result.append(self.queue[i].name)
        return sorted(result)

    def legacy_next_due(self):
        if not self.queue:
            return None
        return min(job.due for job in self.queue)
