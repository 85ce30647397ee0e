"""The benchmark of the appointment service (``make bench`` = ``python -m bench``).

It starts the whole local stack on free ports, then measures booking through the saga
against an inline baseline of the same steps, schedule reads over a large read view, the
outbox's lag to Kafka and the memory of the API and the worker, and prints the figures
beside their targets (``bench.report``)."""
