"""Where transport security's settings go: compose and kustomize mount the secrets as
files at one folder, the settings name files there, and production's settings with its
Secret's files build working TLS, mTLS and SASL options for MongoDB, Temporal and Kafka."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.test_compose import PROCESSES as COMPOSE_PROCESSES
from tests.deploy.test_compose import environment, services
from tests.deploy.test_kubernetes import (
    PROCESSES,
    TRANSPORT_SECRET_TEMPLATE,
    TRANSPORT_SECRETS,
    config_map,
    deployment,
    kubernetes_validate,
    secret_template,
)
from tests.deploy.tools import ENV_EXAMPLE, compose_config, of_kind, read_env_file, settings_from
from tests.unit.transport.pki import make_pki

TRANSPORT_PREFIXES = ("APPOINTMENTS_MONGO_", "APPOINTMENTS_TEMPORAL_", "APPOINTMENTS_KAFKA_")


def transport_files(variables: dict[str, str]) -> dict[str, str]:
    """The transport settings that name a file, and the file."""
    return {
        name: value
        for name, value in variables.items()
        if name.startswith(TRANSPORT_PREFIXES) and name.endswith("_FILE") and value
    }


def transport_template() -> Any:
    return yaml.safe_load(TRANSPORT_SECRET_TEMPLATE.read_text())


# --- Kubernetes ---------------------------------------------------------------------------


def test_the_transport_secret_template_is_valid_and_not_rendered(
    manifests: list[dict[str, Any]],
) -> None:
    kubernetes_validate().validate(transport_template(), "1.37.0", True)
    names = {doc["metadata"]["name"] for doc in of_kind(manifests, "Secret")}
    assert "appointment-service-transport" not in names
    for value in transport_template()["stringData"].values():
        assert "CHANGE-ME" in value, "the template holds placeholders only"


def test_every_process_mounts_the_transport_secret_read_only(
    manifests: list[dict[str, Any]],
) -> None:
    for process in PROCESSES:
        pod = deployment(manifests, process)["spec"]["template"]["spec"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == "transport-secrets"]
        assert volume["secret"]["secretName"] == transport_template()["metadata"]["name"]
        assert volume["secret"]["defaultMode"] == 0o440  # the pod's fsGroup reads it
        (mount,) = [
            m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == TRANSPORT_SECRETS
        ]
        assert (mount["name"], mount["readOnly"]) == ("transport-secrets", True)


def test_the_file_settings_name_keys_of_the_mounted_secret(
    manifests: list[dict[str, Any]],
) -> None:
    keys = set(transport_template()["stringData"])
    for name, path in transport_files(config_map(manifests)).items():
        folder, _, key = path.rpartition("/")
        assert folder == TRANSPORT_SECRETS, name
        assert key in keys, f"{name}: {key} is not a key of {TRANSPORT_SECRET_TEMPLATE.name}"


def test_production_builds_tls_mtls_and_sasl_from_its_secret(
    rendered: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The production ConfigMap with the Secret's files in place (real PEMs of a test CA):
    TLS to MongoDB with its CA, mTLS to Temporal, SASL_SSL with SCRAM to Kafka."""
    from messaging.kafka import security_options
    from persistence.database import client_options
    from workflows.client import api_key, tls_config

    pki = make_pki(tmp_path / "pki")
    mounted = tmp_path / "secrets"
    mounted.mkdir()
    files = {
        "mongo-ca.pem": pki.ca,
        "temporal-ca.pem": pki.ca,
        "temporal-client.pem": pki.client_cert,
        "temporal-client.key": pki.client_key,
        "kafka-ca.pem": pki.ca,
    }
    for key, source in files.items():
        (mounted / key).write_bytes(source.read_bytes())
    (mounted / "kafka-password").write_text("scram-secret\n")

    variables = config_map(rendered["overlays/production"]) | secret_template()
    variables = {
        name: value.replace(TRANSPORT_SECRETS, str(mounted)) for name, value in variables.items()
    }
    settings = settings_from(variables, monkeypatch)

    mongo = client_options(settings)
    assert mongo == {"tls": True, "tlsCAFile": str(mounted / "mongo-ca.pem")}
    assert "tls=true" in settings.mongo_uri

    temporal = tls_config(settings)
    assert temporal is not False
    assert temporal.client_cert == pki.client_cert.read_bytes()
    assert temporal.client_private_key == pki.client_key.read_bytes()
    assert temporal.server_root_ca_cert == pki.ca.read_bytes()
    assert api_key(settings) is None

    kafka = security_options(settings)
    context = kafka.pop("ssl_context")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert kafka == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "appointment-service",
        "sasl_plain_password": "scram-secret",
    }
    # The relay may reach the TLS listener (the network policy's Kafka ports).
    assert settings.kafka_bootstrap_servers.endswith(":9093")


# --- compose ------------------------------------------------------------------------------


def test_every_compose_process_mounts_the_transport_secrets_read_only(
    compose: dict[str, Any],
) -> None:
    for name in COMPOSE_PROCESSES - {"simulators"}:  # the simulators reach no server
        mounts = {m["target"]: m for m in services(compose)[name].get("volumes", [])}
        assert TRANSPORT_SECRETS in mounts, name
        assert mounts[TRANSPORT_SECRETS]["type"] == "bind"
        assert mounts[TRANSPORT_SECRETS]["read_only"] is True


def test_compose_speaks_plaintext_unless_told(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from messaging.kafka import security_options
    from persistence.database import client_options
    from workflows.client import tls_config

    for name in COMPOSE_PROCESSES:
        settings = settings_from(environment(services(compose)[name]), monkeypatch)
        assert tls_config(settings) is False
        assert security_options(settings) == {}
        assert client_options(settings) == {}


def test_compose_passes_managed_services_settings_from_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What .env.example's comments show for managed MongoDB, Temporal Cloud and Kafka
    reaches every process, with the files in the mounted folder."""
    managed = read_env_file(ENV_EXAMPLE) | {
        "APPOINTMENTS_MONGO_TLS_CA_FILE": f"{TRANSPORT_SECRETS}/mongo-ca.pem",
        "APPOINTMENTS_TEMPORAL_API_KEY_FILE": f"{TRANSPORT_SECRETS}/temporal-api-key",
        "APPOINTMENTS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "APPOINTMENTS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "APPOINTMENTS_KAFKA_SASL_USERNAME": "appointment-service",
        "APPOINTMENTS_KAFKA_SASL_PASSWORD_FILE": f"{TRANSPORT_SECRETS}/kafka-password",
    }
    for name in ("api", "worker", "relay", "projector", "notifications"):
        variables = environment(services(compose_config(managed))[name])
        settings = settings_from(variables, monkeypatch)
        assert settings.kafka_security_protocol == "SASL_SSL"
        assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
        for path in transport_files(variables).values():
            assert path.startswith(TRANSPORT_SECRETS + "/"), (name, path)
        assert settings.temporal_api_key_file == Path(TRANSPORT_SECRETS, "temporal-api-key")
