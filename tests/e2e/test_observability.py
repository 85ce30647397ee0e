"""Every metric that an alert rule or a dashboard panel of deploy/observability uses is
exposed by the running service: the API's /metrics and the worker's, on the local stack.
A rule on a metric nobody exposes never fires, a panel on one stays empty, and neither
says so."""

from __future__ import annotations

import httpx
import pytest

from localstack.servers import HOST
from localstack.service import LocalService
from tests.deploy.observability import exposed_names, used_metrics
from tests.e2e.support import scrape, value

pytestmark = pytest.mark.e2e


def exposition(url: str) -> str:
    answer = httpx.get(url, timeout=10)
    answer.raise_for_status()
    return answer.text


def test_every_metric_the_rules_and_the_dashboard_use_is_exposed(service: LocalService) -> None:
    api = f"{service.api_url}/metrics"
    worker = f"http://{HOST}:{service.ports.worker_metrics}/metrics"
    exposed = exposed_names(exposition(api)) | exposed_names(exposition(worker))

    used = used_metrics()
    assert len(used) >= 10  # the files were read, and use the metrics they should
    missing = {name: sorted(where) for name, where in used.items() if name not in exposed}
    assert not missing, missing

    # The gauges read from MongoDB answer on the real stack, not only declare themselves.
    found = scrape(api)
    assert value(found, "appointments_outbox_status_up") == 1.0
    assert value(found, "appointments_projector_status_up") == 1.0
    assert ("appointments_projector_lag_seconds", frozenset()) in found
