"""Exponential reconnect backoff with a cap, driven by an injected monotonic time.

backoff.ready(now)   may we try now?
backoff.failed(now)  an attempt failed: wait base, base*factor, ... up to cap
backoff.succeeded()  connected: the next failure starts again from base
"""


class Backoff:
    def __init__(self, base_s=1.0, cap_s=60.0, factor=2.0, jitter=None):
        if base_s <= 0 or cap_s < base_s or factor < 1:
            raise ValueError("need 0 < base_s <= cap_s and factor >= 1")
        self.base_s = base_s
        self.cap_s = cap_s
        self.factor = factor
        # jitter(delay) -> delay; spreads many exhibits reconnecting after one broker restart
        self.jitter = jitter
        self.failures = 0
        self.delay_s = 0.0
        self.next_attempt = None

    def ready(self, now):
        return self.next_attempt is None or now >= self.next_attempt

    def failed(self, now):
        """Record a failed attempt at `now`; returns the delay before the next one."""
        delay = self.base_s
        for _ in range(self.failures):
            delay *= self.factor
            if delay >= self.cap_s:
                break
        delay = min(delay, self.cap_s)
        if self.jitter is not None:
            delay = self.jitter(delay)
        self.failures += 1
        self.delay_s = delay
        self.next_attempt = now + delay
        return delay

    def succeeded(self):
        self.failures = 0
        self.delay_s = 0.0
        self.next_attempt = None
