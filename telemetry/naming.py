"""Names and buckets every metric of this service shares (Prometheus naming practice:
one prefix for the service, the unit in the name, base units)."""

from __future__ import annotations

PREFIX = "appointments"

# 5 ms .. 30 s: a local activity or a read answers in milliseconds, a peer call in tens to
# hundreds, a step retried by hand or a booking that waits for its saga in seconds; every
# step's start-to-close timeout (10 s) and the API's booking wait fall inside.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
