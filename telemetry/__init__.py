"""Prometheus metrics of the API and the worker (issue #6).

**One registry per process, held by a ``Metrics`` object** (``telemetry.metrics``), made by
the process's composition root (``api.app.create_app``, ``worker.run_worker``) and passed
down; nothing registers on prometheus_client's global ``REGISTRY``. So two apps in one
test process never collide ("Duplicated timeseries"), and a test reads exactly what its
own app counted.

**Where each number is made**

- *HTTP* (API): a pure ASGI middleware (``telemetry.http``) labels by route template,
  never by raw path.
- *Saga outcomes and step latencies* (worker): a Temporal worker interceptor
  (``telemetry.interceptor``). Step latencies are timed around each activity attempt,
  outside the workflow sandbox. Outcomes are counted when a workflow's ``run`` returns or
  raises, and only when the workflow is *not replaying* (``workflow.unsafe.is_replaying()``,
  the same guard the SDK's replay-safe ``workflow.metric_meter()`` uses, and which also
  covers cache eviction). A query on a closed run replays its whole history on some
  worker; without the guard each such query would count the run again (the bug of
  temporalio/sdk-java#759). The count leaves the sandbox through the SDK's extern
  function hook, as the SDK's own OpenTelemetry interceptor does. Nothing of this issues
  a command or reads a value the workflow acts on, so histories and replays are unchanged
  (``tests/workflows/test_replay.py``; ``tests/unit/telemetry/test_interceptor.py``
  replays a run with the interceptor in place).
- *Peer breakers and the outbox*: custom collectors that export snapshots. A snapshot is
  taken by ``Metrics.refresh()`` on the event loop, which owns the breakers and the
  MongoDB client: on the API at every scrape (the ``/metrics`` route is async), on the
  worker every few seconds (``telemetry.exporter``), because its exporter answers from a
  thread that must not touch loop-owned objects.

**Why not the SDK's own Prometheus exporter** (``Runtime(telemetry=TelemetryConfig(
metrics=PrometheusConfig(...)))``)? It serves from Rust core on its own port with its own
registry: ``workflow.metric_meter()`` counters would land there, ours (breakers, outbox,
steps) here, so the worker would need two ports and two scrape targets, and the runtime
must be installed before the client connects. One registry and one port
(``worker_metrics_port``) is simpler to deploy; the SDK's ``temporal_*`` metrics can be
switched on later on a second port without touching this package.
"""
