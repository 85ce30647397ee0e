"""docker-compose.yml: valid against the Compose Specification, resolvable by Compose,
configured through .env.example alone, and wired to settings, commands and endpoints that
exist."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from temporalio.common import SearchAttributeIndexedValueType

from tests.deploy.tools import (
    COMPOSE_FILE,
    DEPLOY,
    DOCKERFILE,
    ENV_EXAMPLE,
    REPO,
    SETTINGS_PREFIX,
    clean_env,
    cli_commands,
    compose_config,
    compose_v2,
    image_is_pinned,
    read_env_file,
    run,
    setting_names,
    settings_from,
    tool,
)
from workflows import search_attributes

# The services that run this repository's image (built from ./Dockerfile), and those of
# them that are processes of the service or its demo.
OURS = {"api", "worker", "relay", "projector", "simulators", "notifications", "jwt-secret"}
PROCESSES = OURS - {"jwt-secret"}
ONE_SHOT = {"mongo-init", "kafka-init", "temporal-init", "jwt-secret"}
SCRIPTS = DEPLOY / "compose"


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def environment(service: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in (service.get("environment") or {}).items()}


def settings_of(
    compose: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Any], Any]:
    """The service ``name`` of the file, and the Settings its environment makes."""
    service = services(compose)[name]
    return service, settings_from(environment(service), monkeypatch)


# --- the tools ------------------------------------------------------------------------


def test_matches_the_compose_specification_schema() -> None:
    """check-jsonschema's vendored copy of the Compose Specification's JSON Schema."""
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)])


def test_the_schema_check_rejects_an_unknown_key(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yml"
    broken.write_text("services:\n  api:\n    image: x:1\n    helthcheck: {}\n")
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr


def test_compose_itself_resolves_it(tmp_path: Path) -> None:
    """An extra, where Docker Compose v2 is installed (`docker compose config` needs no
    engine): references, interpolation and merge keys exactly as Compose reads them. No
    registry here ships Compose v2 cleanly, so CI without it reports this test skipped;
    the schema check above and the checks below cover the file there."""
    compose_cli = compose_v2()
    if compose_cli is None:
        pytest.skip("Docker Compose v2 is not installed (docker compose plugin)")
    empty = tmp_path / "empty.env"
    empty.write_text("")
    env = clean_env(tmp_path)
    argv = [*compose_cli, "-f", str(COMPOSE_FILE), "--env-file", str(empty)]
    run([*argv, "config", "-q"], env=env)
    run([*argv, "--profile", "demo", "config", "-q"], env=env)
    resolved = json.loads(run([*argv, "--profile", "demo", "config", "--format", "json"], env=env))
    # What these tests read in Python is what Compose reads.
    ours = compose_config()
    assert set(resolved["services"]) == set(ours["services"])
    for name, theirs in resolved["services"].items():
        assert summary(theirs) == summary(ours["services"][name]), name


def summary(service: dict[str, Any]) -> dict[str, Any]:
    """The parts of a resolved service these tests rely on, in one comparable shape."""
    return {
        "image": service["image"],
        "command": service.get("command"),
        "entrypoint": service.get("entrypoint"),
        "environment": environment(service),
        "ports": sorted(
            (port["target"], str(port.get("published")), port.get("host_ip"))
            for port in service.get("ports", [])
        ),
        "volumes": sorted(
            (v["type"], v["source"], v["target"], bool(v.get("read_only")))
            for v in service.get("volumes", [])
        ),
        "depends_on": {k: v["condition"] for k, v in (service.get("depends_on") or {}).items()},
        "healthcheck": (service.get("healthcheck") or {}).get("test"),
        "read_only": service.get("read_only"),
        "restart": service.get("restart"),
        "build": service.get("build"),
    }


# --- one configuration file -------------------------------------------------------------


def test_env_example_declares_exactly_the_variables_the_compose_file_uses() -> None:
    lines = COMPOSE_FILE.read_text().splitlines()
    code = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", code))
    declared = set(read_env_file(ENV_EXAMPLE))
    assert used - declared == set(), "used in docker-compose.yml, missing from .env.example"
    assert declared - used == set(), "in .env.example, used nowhere in docker-compose.yml"


def test_env_example_holds_the_compose_defaults(compose: dict[str, Any]) -> None:
    """`cp .env.example .env` changes nothing: every ${VAR:-default} equals the example."""
    assert compose_config(read_env_file(ENV_EXAMPLE)) == compose


def test_every_appointments_variable_is_a_setting(compose: dict[str, Any]) -> None:
    settings = setting_names()
    in_example = {name for name in read_env_file(ENV_EXAMPLE) if name.startswith("APPOINTMENTS")}
    assert in_example - settings == set(), ".env.example names settings that do not exist"
    for name, service in services(compose).items():
        if name not in OURS:
            continue
        variables = set(environment(service))
        assert variables - settings == set(), f"{name}: not settings of config/settings.py"


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_each_process_gets_settings_the_service_accepts(
    compose: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, settings = settings_of(compose, name, monkeypatch)
    # The demo signs its own HS256 tokens, which production refuses (next test).
    assert settings.environment == "demo"
    assert settings.log_json is True
    assert "replicaSet=rs0" in settings.mongo_uri
    # Real Kafka: every replica acknowledges, the producer is idempotent.
    assert settings.kafka_acks == "all"
    assert settings.kafka_enable_idempotence is True


# The journey's settings and the action links' (issue #15): the api captures the journey's
# rules at booking and checks the links, the worker runs the journeys and writes the links.
JOURNEY = (
    "APPOINTMENTS_REMINDER_OFFSETS_MINUTES",
    "APPOINTMENTS_QUIET_HOURS",
    "APPOINTMENTS_NO_SHOW_GRACE_MINUTES",
    "APPOINTMENTS_NO_SHOW_FEE_CENTS",
    "APPOINTMENTS_PUBLIC_BASE_URL",
    "APPOINTMENTS_ACTION_LINK_SECRET_FILE",
)


def test_the_api_and_the_worker_share_the_journeys_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, api_settings = settings_of(compose, "api", monkeypatch)
    worker, worker_settings = settings_of(compose, "worker", monkeypatch)
    for name in JOURNEY:
        assert name in environment(api), name
        assert name in environment(worker), name
        assert environment(api)[name] == environment(worker)[name], name
    assert api_settings.journey_rules == worker_settings.journey_rules
    assert api_settings.reminder_offsets_minutes == [1440, 120]
    assert str(api_settings.journey_rules.quiet_hours) == "21:00-08:00"
    assert api_settings.no_show_grace_minutes == 15
    assert api_settings.no_show_fee_cents == 2500


def test_the_journeys_settings_come_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """What make run's recipe sets reaches the processes through .env as well."""
    compressed = read_env_file(ENV_EXAMPLE) | {
        "APPOINTMENTS_REMINDER_OFFSETS_MINUTES": "[3]",
        "APPOINTMENTS_QUIET_HOURS": "off",
        "APPOINTMENTS_NO_SHOW_GRACE_MINUTES": "1",
        "APPOINTMENTS_NO_SHOW_FEE_CENTS": "0",
    }
    for name in ("api", "worker"):
        settings = settings_from(
            environment(services(compose_config(compressed))[name]), monkeypatch
        )
        assert settings.reminder_offsets_minutes == [3]
        assert settings.journey_rules.quiet_hours is None
        assert (settings.no_show_grace_minutes, settings.no_show_fee_cents) == (1, 0)


# What .env names for a real identity provider (its comments say so).
IDENTITY_PROVIDER = {
    "APPOINTMENTS_JWT_JWKS_URL": "https://login.example.com/.well-known/jwks.json",
    "APPOINTMENTS_JWT_ALGORITHMS": '["RS256"]',
    "APPOINTMENTS_JWT_ISSUER": "https://login.example.com/",
    # ... and the action links' secret, a file of TRANSPORT_SECRETS_DIR (.env.example).
    "APPOINTMENTS_ACTION_LINK_SECRET_FILE": "/run/secrets/appointments/action-link-secret",
}


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_production_refuses_the_demo_tokens_and_runs_with_an_identity_provider(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """.env.example with APPOINTMENTS_ENVIRONMENT=production alone: no process starts; with
    the identity provider's settings that .env.example shows as well, every one does."""
    from config.settings import ProductionSettingsError

    production = read_env_file(ENV_EXAMPLE) | {"APPOINTMENTS_ENVIRONMENT": "production"}
    demo_tokens = services(compose_config(production))[name]
    with pytest.raises(ProductionSettingsError, match="APPOINTMENTS_JWT_JWKS_URL"):
        settings_from(environment(demo_tokens), monkeypatch)

    provider = services(compose_config(production | IDENTITY_PROVIDER))[name]
    settings = settings_from(environment(provider), monkeypatch)
    assert settings.environment == "production"
    assert settings.jwt_jwks_url == IDENTITY_PROVIDER["APPOINTMENTS_JWT_JWKS_URL"]
    assert settings.jwt_secret_file is None


def test_the_api_listens_on_every_interface_of_its_published_port(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, settings = settings_of(compose, "api", monkeypatch)
    assert settings.api_host == "0.0.0.0"
    assert {port["target"] for port in api["ports"]} == {settings.api_port}
    # The demo's secret: at its default path, in the jwt-secret volume, read-only.
    mounts = {volume["target"]: volume for volume in api["volumes"]}
    assert mounts[str(settings.jwt_secret_path.parent)]["read_only"] is True
    assert mounts[str(settings.jwt_secret_path.parent)]["source"] == "jwt-secret"


def test_the_worker_serves_metrics_where_its_health_check_looks(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    worker, settings = settings_of(compose, "worker", monkeypatch)
    assert settings.worker_metrics_host == "0.0.0.0"
    assert f"127.0.0.1:{settings.worker_metrics_port}/metrics" in " ".join(
        worker["healthcheck"]["test"]
    )


# --- images, order, health ---------------------------------------------------------------


def test_every_image_is_pinned_by_tag(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        assert image_is_pinned(service["image"]), f"{name}: {service['image']}"
    # The image built here is tagged with the project's version.
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    for name in OURS:
        assert services(compose)[name]["image"] == f"appointment-service:{version}", name


def test_our_processes_run_the_image_built_from_the_dockerfile(compose: dict[str, Any]) -> None:
    for name in OURS:
        service = services(compose)[name]
        assert Path(service["build"]["context"]) == REPO, name
        assert service["build"]["dockerfile"] == DOCKERFILE.name, name
        # Hardening that Kubernetes' securityContext mirrors.
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name


def test_the_commands_exist(compose: dict[str, Any]) -> None:
    commands = cli_commands()
    for name in PROCESSES:
        assert services(compose)[name]["command"][0] in commands, name


def test_the_simulators_flags_exist(
    compose: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """The peers' simulators bind 0.0.0.0 in a container (--host) and keep their state in
    the volume. `appointment-service simulators ARGS` hands ARGS to this parser."""
    from simulators.runner import main

    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    help_text = capsys.readouterr().out
    command = services(compose)["simulators"]["command"]
    for flag in (arg for arg in command if arg.startswith("--")):
        assert flag in help_text, f"{flag} is not an option of the simulators"
    assert command[command.index("--host") + 1] == "0.0.0.0"


def test_start_order_follows_health_and_init(compose: dict[str, Any]) -> None:
    all_services = services(compose)
    needs = {
        "api": {"mongo-init", "temporal-init", "jwt-secret"},
        "worker": {"mongo-init", "temporal-init"},
        "relay": {"mongo-init", "kafka-init"},
        "projector": {"mongo-init"},
        "notifications": {"mongo-init", "kafka-init"},
        "mongo-init": {"mongo"},
        "kafka-init": {"kafka"},
        "temporal": {"postgresql"},
        "temporal-init": {"temporal"},
        "temporal-ui": {"temporal"},
    }
    for name, required in needs.items():
        depends = all_services[name]["depends_on"]
        assert required <= set(depends), f"{name} does not wait for {required - set(depends)}"
    for name, service in all_services.items():
        for target, how in (service.get("depends_on") or {}).items():
            condition = how["condition"]
            if target in ONE_SHOT:
                assert condition == "service_completed_successfully", (name, target)
            else:
                assert condition == "service_healthy", (name, target)
                has_check = "healthcheck" in all_services[target] or target in OURS
                assert has_check, f"{name} waits for {target}, which has no health check"
    for name in ONE_SHOT:
        assert all_services[name]["restart"] == "no", name


def test_long_running_services_have_health_checks(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        if name in ONE_SHOT or name in {"notifications", "temporal-ui", "api"}:
            continue
        check = service.get("healthcheck") or {"disable": True}
        assert not check.get("disable"), f"{name} has no health check"
    # The api keeps the image's own HEALTHCHECK (GET /health/live).
    assert "healthcheck" not in services(compose)["api"]
    assert "/health/live" in DOCKERFILE.read_text()


def test_the_relay_and_the_projector_are_healthy_by_their_heartbeat(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Their loops touch a file (telemetry/heartbeat.py): on a tmpfs, as the root file
    system is read-only; the healthcheck is the `alive` command of each."""
    for name in ("relay", "projector"):
        service, settings = settings_of(compose, name, monkeypatch)
        assert service["healthcheck"]["test"] == ["CMD", "appointment-service", name, "alive"]
        assert service["read_only"] is True
        tmpfs = [Path(mount.split(":")[0]) for mount in service["tmpfs"]]
        assert any(settings.heartbeat_path.is_relative_to(mount) for mount in tmpfs), name


def test_python_health_checks_compile(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        test = (service.get("healthcheck") or {}).get("test") or []
        if test[:3] == ["CMD", "python", "-c"]:
            compile(test[3], f"{name} healthcheck", "exec")


def test_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    expected = {
        "mongo": "/data/db",
        "kafka": "/var/lib/kafka/data",
        "postgresql": "/var/lib/postgresql/data",
        "simulators": "/var/lib/appointments",
    }
    for name, target in expected.items():
        mounts = {m["target"]: m for m in services(compose)[name]["volumes"]}
        assert mounts[target]["type"] == "volume", name
        assert mounts[target]["source"] in compose["volumes"], name


def test_mongo_is_a_replica_set_initiated_by_mongo_init(compose: dict[str, Any]) -> None:
    mongo = services(compose)["mongo"]
    assert mongo["command"][:2] == ["--replSet", "rs0"]
    script = (SCRIPTS / "mongo" / "init-replica-set.js").read_text()
    assert '_id: "rs0"' in script
    assert 'host: "mongo:27017"' in script
    assert "NotYetInitialized" in script  # idempotent: an initiated set is left alone
    assert "isWritablePrimary" in script  # done only when transactions can run
    assert services(compose)["mongo-init"]["command"][-1] == "/scripts/init-replica-set.js"


def test_kafka_creates_the_services_topic(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    init = environment(services(compose)["kafka-init"])
    _, settings = settings_of(compose, "relay", monkeypatch)
    assert init["TOPIC"] == settings.kafka_topic == "appointment.events"
    assert init["WAITLIST_TOPIC"] == settings.waitlist_topic == "waitlist.events"
    assert init["PARTITIONS"] == "3"
    kafka = environment(services(compose)["kafka"])
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert settings.kafka_bootstrap_servers.split(",")[0] in kafka["KAFKA_ADVERTISED_LISTENERS"]


def test_temporal_registers_the_local_stacks_search_attributes(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from localstack.servers import SEARCH_ATTRIBUTES

    script = (SCRIPTS / "temporal" / "register-search-attributes.sh").read_text()
    match = re.search(r'^ATTRIBUTES="([^"]+)"', script, re.MULTILINE)
    assert match
    pairs = {tuple(pair.split("=")) for pair in match.group(1).split()}
    assert pairs == set(SEARCH_ATTRIBUTES)  # names and types: NextActionAt is a Datetime
    assert ("NextActionAt", "Datetime") in pairs
    init = environment(services(compose)["temporal-init"])
    _, settings = settings_of(compose, "worker", monkeypatch)
    assert init["TEMPORAL_NAMESPACE"] == settings.temporal_namespace
    assert init["TEMPORAL_ADDRESS"] == settings.temporal_address


# --- the init scripts, run against stand-ins of their CLIs -------------------------------


def fake_cli(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.mark.parametrize(
    "script", ["kafka/create-topic.sh", "temporal/register-search-attributes.sh"]
)
def test_init_scripts_parse(script: str) -> None:
    run(["sh", "-n", str(SCRIPTS / script)])


# A stand-in of the temporal CLI: every call is logged; `search-attribute list` prints
# what `search-attribute create` registered so far; health and namespace checks succeed.
FAKE_TEMPORAL = r"""
echo "$*" >> CALLS
case "$*" in
  *"search-attribute list"*) cat REGISTERED ;;
  *"search-attribute create"*)
    echo "$*" | sed -n 's/.*--name \([A-Za-z]*\) --type \([A-Za-z]*\).*/\1 \2/p' >> REGISTERED ;;
esac
"""


# The temporal CLI's --type of each kind of key the workflows use.
TYPES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
}


def test_register_search_attributes_is_idempotent(tmp_path: Path) -> None:
    """First run: creates every attribute the workflows use. Second run (they are listed
    now): creates none."""
    calls, registered = tmp_path / "calls", tmp_path / "registered"
    registered.write_text("")
    body = FAKE_TEMPORAL.replace("CALLS", str(calls)).replace("REGISTERED", str(registered))
    fake_cli(tmp_path / "bin", "temporal", body)
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "TEMPORAL_ADDRESS": "temporal:7233"}
    script = str(SCRIPTS / "temporal" / "register-search-attributes.sh")

    run(["sh", script], env=env)
    creates = [line for line in calls.read_text().splitlines() if "create" in line]
    assert len(creates) == len(search_attributes.ALL)
    assert all("--namespace default" in line for line in creates)
    kinds = dict(line.split() for line in registered.read_text().splitlines())
    assert kinds == {key.name: TYPES[key.indexed_value_type] for key in search_attributes.ALL}

    calls.write_text("")
    run(["sh", script], env=env)
    assert "create" not in calls.read_text()
    assert "search-attribute list" in calls.read_text()


def test_create_topic_asks_for_the_topic_if_it_does_not_exist(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    fake_cli(tmp_path / "bin", "kafka-topics.sh", f'echo "$*" >> {calls}')
    env = {
        "PATH": "/usr/bin:/bin",
        "KAFKA_BIN": str(tmp_path / "bin"),
        "BOOTSTRAP": "kafka:9092",
        "TOPIC": "appointment.events",
        "PARTITIONS": "3",
    }
    run(["sh", str(SCRIPTS / "kafka" / "create-topic.sh")], env=env)
    create = calls.read_text().splitlines()[0].split()
    assert "--if-not-exists" in create
    assert create[create.index("--topic") + 1] == "appointment.events"
    assert create[create.index("--partitions") + 1] == "3"
    assert create[create.index("--bootstrap-server") + 1] == "kafka:9092"
    assert [c for c in calls.read_text().splitlines() if "--create" in c] == [
        " ".join(create)
    ]  # no WAITLIST_TOPIC: only TOPIC


def test_create_topic_creates_the_waitlist_topic_beside(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    fake_cli(tmp_path / "bin", "kafka-topics.sh", f'echo "$*" >> {calls}')
    env = {
        "PATH": "/usr/bin:/bin",
        "KAFKA_BIN": str(tmp_path / "bin"),
        "BOOTSTRAP": "kafka:9092",
        "TOPIC": "appointment.events",
        "WAITLIST_TOPIC": "waitlist.events",
    }
    run(["sh", str(SCRIPTS / "kafka" / "create-topic.sh")], env=env)
    creates = [line.split() for line in calls.read_text().splitlines() if "--create" in line]
    assert [c[c.index("--topic") + 1] for c in creates] == ["appointment.events", "waitlist.events"]
    assert all("--if-not-exists" in c for c in creates)


def test_settings_prefix_is_what_the_settings_read() -> None:
    from config.settings import Settings

    assert Settings.model_config.get("env_prefix") == SETTINGS_PREFIX
