"""Small test doubles shared by the test modules."""

T0 = 1_790_000_000.0  # a fixed "now" (2026-09-21 UTC) for servers with a fake clock


class FakeClock:
    """A clock the test moves by hand: `clock.now += 60`."""

    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now
