"""A token-bucket rate limiter per client key, for the public API."""

import threading
import time
from dataclasses import dataclass


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Allows `rate` requests per second per key, in bursts of up to `burst`."""

    def __init__(self, rate: float, burst: int, clock=time.monotonic):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.buckets: dict[str, Bucket] = {}
        self.lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self.lock:
            bucket = self.buckets.get(key)
            if bucket is None:
                bucket = Bucket(tokens=float(self.burst), updated=now)
                self.buckets[key] = bucket
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.updated = now
            if bucket.tokens < 1.0:
                return False
            bucket.tokens -= 1.0
            return True

    def retry_after(self, key: str) -> float:
        with self.lock:
            bucket = self.buckets.get(key)
            if bucket is None or bucket.tokens >= 1.0:
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def forget_idle(self, idle_seconds: float) -> int:
        now = self.clock()
        with self.lock:
            idle = [k for k, b in self.buckets.items() if now - b.updated > idle_seconds]
            for key in idle:
                del self.buckets[key]
            return len(idle)
