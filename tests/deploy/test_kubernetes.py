"""deploy/: every manifest kustomize renders (base and production) is valid against the
Kubernetes schemas, and the Deployments are wired to settings, endpoints and commands
that exist, with the probes, limits, hardening and network policies the design asks for."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.tools import (
    DEPLOY,
    DOCKERFILE,
    INSTALL,
    cli_commands,
    image_is_pinned,
    labels_match,
    of_kind,
    setting_names,
    settings_from,
)

# The oldest Kubernetes release the manifests promise to work on, and the newest schemas.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
PROCESSES = ("api", "worker", "relay", "projector")
NAME_LABEL = {"app.kubernetes.io/name": "appointment-service"}
SECRET_TEMPLATE = DEPLOY / "base" / "secret.example.yaml"
# The Secret of transport security's files, and where every process mounts it.
TRANSPORT_SECRET_TEMPLATE = DEPLOY / "base" / "transport-secret.example.yaml"
TRANSPORT_SECRETS = "/run/secrets/appointments"

# What each process may reach (pod ports): DNS, MongoDB, and its own dependencies.
EGRESS_PORTS = {
    "api": {53, 27017, 7233, 8080, 443},  # + Temporal, peers, the IdP's JWKS
    "worker": {53, 27017, 7233, 8080},  # + Temporal, peers
    "relay": {53, 27017, 9092, 9093},  # + Kafka
    "projector": {53, 27017, 8080},  # + peers (names for the read view)
}
INGRESS_PORTS: dict[str, set[int]] = {
    "api": {8000},  # from the ingress controller and Prometheus
    "worker": {9464},  # from Prometheus
    "relay": set(),
    "projector": set(),
}


def kubernetes_validate() -> Any:
    try:
        import kubernetes_validate as validator
    except ImportError:
        pytest.fail(
            f"kubernetes_validate is not installed; {INSTALL['kubernetes_validate']}",
            pytrace=False,
        )
    return validator


def deployment(manifests: list[dict[str, Any]], process: str) -> dict[str, Any]:
    name = f"appointment-service-{process}"
    (found,) = [doc for doc in of_kind(manifests, "Deployment") if doc["metadata"]["name"] == name]
    return found


def container(manifests: list[dict[str, Any]], process: str) -> Any:
    (found,) = deployment(manifests, process)["spec"]["template"]["spec"]["containers"]
    return found


def config_map(manifests: list[dict[str, Any]]) -> Any:
    (found,) = of_kind(manifests, "ConfigMap")
    return found["data"]


def secret_template() -> Any:
    return yaml.safe_load(SECRET_TEMPLATE.read_text())["stringData"]


def template_labels(manifests: list[dict[str, Any]], process: str) -> Any:
    return deployment(manifests, process)["spec"]["template"]["metadata"]["labels"]


# --- the schemas --------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_manifest_is_valid(manifests: list[dict[str, Any]], version: str) -> None:
    """Strict: an unknown or misspelt field is an error, as `kubectl apply` would make it."""
    validator = kubernetes_validate()
    for doc in manifests:
        validator.validate(doc, version, strict=True)


def test_strict_validation_rejects_a_misspelt_field(rendered: dict[str, Any]) -> None:
    validator = kubernetes_validate()
    broken = yaml.safe_load(yaml.safe_dump(deployment(rendered["base"], "api")))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(validator.ValidationError):
        validator.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_secret_template_is_valid_and_not_rendered(manifests: list[dict[str, Any]]) -> None:
    validator = kubernetes_validate()
    validator.validate(yaml.safe_load(SECRET_TEMPLATE.read_text()), KUBERNETES_VERSIONS[-1], True)
    assert of_kind(manifests, "Secret") == [], "a real Secret never comes from the repository"
    for value in secret_template().values():
        assert "CHANGE-ME" in value, "the template holds placeholders only"


# --- settings -----------------------------------------------------------------------------


def test_every_configured_variable_is_a_setting(manifests: list[dict[str, Any]]) -> None:
    settings = setting_names()
    assert set(config_map(manifests)) - settings == set()
    assert set(secret_template()) - settings == set()
    for process in PROCESSES:
        variables = {env["name"] for env in container(manifests, process).get("env", [])}
        assert variables - settings == set(), process


def test_secrets_stay_out_of_the_config_map(manifests: list[dict[str, Any]]) -> None:
    assert set(config_map(manifests)).isdisjoint(secret_template())
    assert "APPOINTMENTS_MONGO_URI" in secret_template()  # it carries credentials
    assert "APPOINTMENTS_JWT_SECRET_FILE" not in config_map(manifests)


def test_the_settings_parse_and_are_production_settings(
    manifests: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_from(config_map(manifests) | secret_template(), monkeypatch)
    assert settings.environment == "production"
    assert settings.log_json is True
    assert settings.api_host == "0.0.0.0"
    assert settings.worker_metrics_host == "0.0.0.0"
    assert settings.kafka_acks == "all"
    assert settings.kafka_enable_idempotence is True
    assert "replicaSet=" in settings.mongo_uri
    # Production verifies tokens against the identity provider's public keys only.
    assert settings.jwt_jwks_url
    assert settings.jwt_jwks_url.startswith("https://")
    assert set(settings.jwt_algorithms) <= {"RS256", "ES256", "PS256", "EdDSA"}


def test_the_journeys_settings_are_configured_for_every_process(
    manifests: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the ConfigMap every Deployment reads (the api captures them at booking, the
    worker's journeys follow them); the links' secret is in the Secret."""
    configured = config_map(manifests)
    for name in (
        "APPOINTMENTS_REMINDER_OFFSETS_MINUTES",
        "APPOINTMENTS_QUIET_HOURS",
        "APPOINTMENTS_NO_SHOW_GRACE_MINUTES",
        "APPOINTMENTS_NO_SHOW_FEE_CENTS",
        "APPOINTMENTS_PUBLIC_BASE_URL",
    ):
        assert name in configured, name
    assert "APPOINTMENTS_ACTION_LINK_SECRET" in secret_template()
    settings = settings_from(configured | secret_template(), monkeypatch)
    assert settings.reminder_offsets_minutes == [1440, 120]
    assert settings.public_base_url.startswith("https://")


def test_every_deployment_reads_the_config_map_and_the_secret(
    manifests: list[dict[str, Any]],
) -> None:
    (generated,) = of_kind(manifests, "ConfigMap")
    for process in PROCESSES:
        sources = container(manifests, process)["envFrom"]
        assert {"configMapRef": {"name": generated["metadata"]["name"]}} in sources, process
        secret = [source["secretRef"] for source in sources if "secretRef" in source]
        assert secret == [{"name": "appointment-service-secrets"}], process


# --- processes, probes, resources, hardening ----------------------------------------------


def test_each_deployment_runs_its_process(manifests: list[dict[str, Any]]) -> None:
    commands = cli_commands()
    for process in PROCESSES:
        args = container(manifests, process)["args"]
        assert args[0] == process
        assert args[0] in commands
        assert "command" not in container(manifests, process), "keep tini as the entrypoint"


def test_images_are_pinned(manifests: list[dict[str, Any]]) -> None:
    for process in PROCESSES:
        image = container(manifests, process)["image"]
        assert image_is_pinned(image), f"{process}: {image}"


def test_every_deployment_has_probes_requests_and_limits(
    manifests: list[dict[str, Any]],
) -> None:
    for process in PROCESSES:
        spec = container(manifests, process)
        assert "readinessProbe" in spec, process
        assert "livenessProbe" in spec, process
        for kind in ("requests", "limits"):
            assert set(spec["resources"][kind]) == {"cpu", "memory"}, (process, kind)


async def test_http_probes_ask_endpoints_the_api_serves(
    manifests: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    from api.app import create_app

    settings = settings_from(config_map(manifests) | secret_template(), monkeypatch)
    api = container(manifests, "api")
    ports = {port["name"]: port["containerPort"] for port in api["ports"]}
    # No lifespan runs: routing is what is checked here, not MongoDB or Temporal.
    transport = httpx.ASGITransport(app=create_app(settings), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            get = api[probe]["httpGet"]
            assert ports[get["port"]] == settings.api_port, probe
            response = await client.get(get["path"])
            assert response.status_code not in {404, 405}, (probe, get["path"])
        assert (await client.get("/health/live")).json() == {"status": "ok"}


def test_worker_probes_ask_its_metrics_port(
    manifests: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_from(config_map(manifests) | secret_template(), monkeypatch)
    worker = container(manifests, "worker")
    ports = {port["name"]: port["containerPort"] for port in worker["ports"]}
    assert ports == {"metrics": settings.worker_metrics_port}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert worker[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}, probe


def test_relay_probes_run_relay_status_and_relay_alive(
    manifests: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Ready: the outbox can be read. Alive: the relay loop's heartbeat is recent.
    `appointment-service relay ARGS` hands ARGS to messaging.relay.main."""
    from messaging.relay import main

    relay = container(manifests, "relay")
    ready = relay["readinessProbe"]["exec"]["command"]
    assert ready[:3] == ["appointment-service", "relay", "status"]
    assert relay["livenessProbe"]["exec"]["command"] == ["appointment-service", "relay", "alive"]
    for probe in ("readinessProbe", "livenessProbe"):
        with pytest.raises(SystemExit) as exit_:
            main([*relay[probe]["exec"]["command"][2:], "--help"])
        assert exit_.value.code == 0, probe
    assert "--json" in capsys.readouterr().out


def test_projector_probes_ask_mongodb_and_the_heartbeat(manifests: list[dict[str, Any]]) -> None:
    from config import load_settings

    assert callable(load_settings)
    projector = container(manifests, "projector")
    interpreter, flag, code = projector["readinessProbe"]["exec"]["command"]
    assert (interpreter, flag) == ("python", "-c")
    compile(code, "projector readinessProbe", "exec")
    assert "serverSelectionTimeoutMS" in code  # bounded well inside timeoutSeconds
    assert projector["readinessProbe"]["timeoutSeconds"] * 1000 > 5000
    alive = projector["livenessProbe"]["exec"]["command"]
    assert alive == ["appointment-service", "projector", "alive"]


def test_heartbeats_go_to_a_writable_mount(
    manifests: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The root file system is read-only: the heartbeat must land on the /tmp emptyDir,
    or the loop could never prove it is alive."""
    settings = settings_from(config_map(manifests) | secret_template(), monkeypatch)
    for process in ("relay", "projector"):
        app = container(manifests, process)
        assert app["securityContext"]["readOnlyRootFilesystem"] is True
        mounts = {mount["mountPath"] for mount in app["volumeMounts"]}
        assert any(settings.heartbeat_path.is_relative_to(mount) for mount in mounts), process


def test_pods_run_as_the_images_non_root_user(manifests: list[dict[str, Any]]) -> None:
    match = re.search(r"^USER (\d+):(\d+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match, "the Dockerfile sets a numeric USER"
    uid, gid = int(match.group(1)), int(match.group(2))
    for process in PROCESSES:
        pod = deployment(manifests, process)["spec"]["template"]["spec"]
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True
        assert (context["runAsUser"], context["runAsGroup"]) == (uid, gid), process
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        hardening = container(manifests, process)["securityContext"]
        assert hardening == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }, process
        # A read-only root filesystem still needs a writable temporary folder; the
        # transport secrets are files, read-only.
        mounts = {m["mountPath"]: m for m in container(manifests, process)["volumeMounts"]}
        assert set(mounts) == {"/tmp", TRANSPORT_SECRETS}, process  # noqa: S108 (an emptyDir)
        assert mounts[TRANSPORT_SECRETS]["readOnly"] is True


def test_graceful_shutdown_has_time(manifests: list[dict[str, Any]]) -> None:
    grace = {
        process: deployment(manifests, process)["spec"]["template"]["spec"][
            "terminationGracePeriodSeconds"
        ]
        for process in PROCESSES
    }
    # The relay's batch in flight may take 2 x Kafka's request timeout (10 s) + 5 s.
    assert grace["relay"] >= 25
    assert grace["worker"] >= grace["api"]


# --- replicas, autoscaling, disruption budgets --------------------------------------------


def test_replicas_and_strategies(manifests: list[dict[str, Any]]) -> None:
    relay = deployment(manifests, "relay")["spec"]
    projector = deployment(manifests, "projector")["spec"]
    assert relay["replicas"] == 2, "one active relay (lease) and a hot standby"
    assert projector["replicas"] == 1, "one projector per read view"
    assert projector["strategy"] == {"type": "Recreate"}
    for process in ("api", "worker"):
        # The autoscaler owns the count; a replicas field would reset it on every apply.
        assert "replicas" not in deployment(manifests, process)["spec"], process


def test_autoscalers_target_the_api_and_the_worker(manifests: list[dict[str, Any]]) -> None:
    targets = {}
    for hpa in of_kind(manifests, "HorizontalPodAutoscaler"):
        spec = hpa["spec"]
        assert 2 <= spec["minReplicas"] < spec["maxReplicas"]
        targets[spec["scaleTargetRef"]["name"]] = spec["scaleTargetRef"]["kind"]
    assert targets == {
        "appointment-service-api": "Deployment",
        "appointment-service-worker": "Deployment",
    }


def test_selectors_select_what_they_mean(manifests: list[dict[str, Any]]) -> None:
    for process in PROCESSES:
        spec = deployment(manifests, process)["spec"]
        assert labels_match(spec["selector"]["matchLabels"], template_labels(manifests, process))
    pods = {process: template_labels(manifests, process) for process in PROCESSES}
    selectors = [(doc, doc["spec"]["selector"]) for doc in of_kind(manifests, "Service")]
    selectors += [
        (doc, doc["spec"]["selector"]["matchLabels"])
        for doc in of_kind(manifests, "PodDisruptionBudget")
    ]
    for doc, selector in selectors:
        selected = [p for p, labels in pods.items() if labels_match(selector, labels)]
        assert len(selected) == 1, (doc["kind"], doc["metadata"]["name"], selected)
    budgets = {
        process
        for doc in of_kind(manifests, "PodDisruptionBudget")
        for process, labels in pods.items()
        if labels_match(doc["spec"]["selector"]["matchLabels"], labels)
    }
    assert budgets == {"api", "worker", "relay"}


def test_services_reach_named_container_ports(manifests: list[dict[str, Any]]) -> None:
    named = {
        port["name"]
        for process in PROCESSES
        for port in container(manifests, process).get("ports", [])
    }
    for service in of_kind(manifests, "Service"):
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in named, service["metadata"]["name"]


# --- network policies ---------------------------------------------------------------------


def policies_for(manifests: list[dict[str, Any]], process: str) -> list[dict[str, Any]]:
    labels = template_labels(manifests, process)
    return [
        policy
        for policy in of_kind(manifests, "NetworkPolicy")
        if labels_match(policy["spec"]["podSelector"].get("matchLabels", {}), labels)
    ]


def test_everything_is_denied_unless_admitted(manifests: list[dict[str, Any]]) -> None:
    def denies_all(spec: dict[str, Any]) -> bool:
        return (
            spec["podSelector"] == {"matchLabels": NAME_LABEL}
            and set(spec["policyTypes"]) == {"Ingress", "Egress"}
            and not spec.get("ingress")
            and not spec.get("egress")
        )

    policies = of_kind(manifests, "NetworkPolicy")
    assert [policy for policy in policies if denies_all(policy["spec"])], "no default deny"


@pytest.mark.parametrize("process", PROCESSES)
def test_each_process_is_admitted_only_what_it_needs(
    manifests: list[dict[str, Any]], process: str
) -> None:
    ingress: set[int] = set()
    egress: set[int] = set()
    for policy in policies_for(manifests, process):
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from"), "an ingress rule without sources admits everyone"
            ingress |= {port["port"] for port in rule["ports"]}
        for rule in policy["spec"].get("egress", []):
            assert rule.get("to"), "an egress rule without destinations admits everything"
            egress |= {port["port"] for port in rule["ports"]}
    assert ingress == INGRESS_PORTS[process]
    assert egress == EGRESS_PORTS[process]


def test_ingress_ports_are_the_ports_the_pods_serve(
    manifests: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_from(config_map(manifests) | secret_template(), monkeypatch)
    assert INGRESS_PORTS["api"] == {settings.api_port}
    assert INGRESS_PORTS["worker"] == {settings.worker_metrics_port}


# --- production -----------------------------------------------------------------------------


def test_production_overlay(rendered: dict[str, list[dict[str, Any]]]) -> None:
    production = rendered["overlays/production"]
    (namespace,) = of_kind(production, "Namespace")
    assert namespace["metadata"]["name"] == "appointments"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for doc in production:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "appointments", doc["metadata"]["name"]
    for process in PROCESSES:
        image = container(production, process)["image"]
        assert image.startswith("registry.example.com/smart-clinic/appointment-service:")
    bounds = {
        hpa["metadata"]["name"]: (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"])
        for hpa in of_kind(production, "HorizontalPodAutoscaler")
    }
    assert bounds == {"appointment-service-api": (3, 12), "appointment-service-worker": (3, 10)}
    (ingress,) = of_kind(production, "Ingress")
    paths = {p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
    assert "/metrics" not in paths
    assert not any(path in {"/", "/health"} for path in paths), "only public paths go out"


def test_base_and_overlay_files_are_all_used() -> None:
    """Every YAML file under deploy/base and deploy/overlays is named by its
    kustomization (the Secret template excepted), so nothing is silently left out."""
    for kustomization in DEPLOY.glob("**/kustomization.yaml"):
        folder = kustomization.parent
        spec = yaml.safe_load(kustomization.read_text())
        named = {Path(entry).name for entry in spec.get("resources", [])}
        named |= {Path(patch["path"]).name for patch in spec.get("patches", [])}
        for manifest in folder.glob("**/*.yaml"):
            if manifest.name in {
                "kustomization.yaml",
                SECRET_TEMPLATE.name,
                TRANSPORT_SECRET_TEMPLATE.name,
            }:
                continue
            assert manifest.name in named, f"{manifest.relative_to(DEPLOY)} is not used"
