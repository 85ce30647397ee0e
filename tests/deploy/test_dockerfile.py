"""The Dockerfile: hadolint-clean, multi-stage with a slim non-root runtime, tini as PID 1,
and a build context (.dockerignore) that holds the package and nothing else."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.deploy.tools import DOCKERFILE, DOCKERIGNORE, REPO, image_is_pinned, run, tool


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def test_hadolint_finds_nothing() -> None:
    """Every rule down to style level; the two DL3008 exceptions are commented inline."""
    run([tool("hadolint"), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)])


def test_hadolint_would_catch_an_unpinned_base(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text('FROM python:latest\nCMD ["python"]\n')
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "DL3007" in result.stdout


def test_multi_stage_on_a_pinned_slim_python() -> None:
    steps = instructions()
    arguments = dict(
        rest.split("=", 1) for keyword, rest in steps if keyword == "ARG" and "=" in rest
    )
    base = arguments["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base), base
    assert image_is_pinned(base)
    # Node only fetches the docs' browser assets from npm; the builder copies the files.
    node = arguments["NODE_IMAGE"]
    assert re.fullmatch(r"node:\d+\.\d+\.\d+-\w+-slim", node), node
    stages = [rest for keyword, rest in steps if keyword == "FROM"]
    assert stages == [
        "${NODE_IMAGE} AS docs-assets",
        "${PYTHON_IMAGE} AS builder",
        "${PYTHON_IMAGE} AS runtime",
    ]


def test_the_docs_assets_come_from_the_npm_lock_into_the_package() -> None:
    steps = instructions()
    assert ("RUN", "npm ci --ignore-scripts --no-audit --no-fund") in steps
    builder = steps.index(("FROM", "${PYTHON_IMAGE} AS builder"))
    copied = steps.index(("RUN", "python -m api.docs.assets"), builder)
    installed = next(
        i
        for i, (keyword, rest) in enumerate(steps)
        if keyword == "RUN" and "pip install --no-deps" in rest
    )
    assert copied < installed
    assert in_context("docs-assets/package-lock.json")
    assert not in_context("docs-assets/node_modules/react/package.json")
    assert not in_context("api/docs/static/swagger-ui-bundle.js")
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "docs/static/*" in package_data["package-data"]["api"]


def test_the_runtime_stage_has_no_build_tools_and_only_the_venv() -> None:
    runtime = " ".join(f"{keyword} {rest}" for keyword, rest in final_stage())
    for tool_name in ("build-essential", "gcc", "g++", "pip install", "make"):
        assert tool_name not in runtime, tool_name
    copies = [rest for keyword, rest in final_stage() if keyword == "COPY"]
    assert copies == ["--from=builder /opt/venv /opt/venv"]


def test_the_local_and_dev_extras_stay_out() -> None:
    """The runtime lock, then the package alone: the runtime dependencies only, never
    `.[local]` or `.[dev]` (the GPL SecantusDB server lives in `local`)."""
    installs = [" ".join(rest.split()) for keyword, rest in instructions() if "pip install" in rest]
    assert installs == [
        "pip install --require-hashes -r requirements/runtime.lock",
        "pip install --no-deps --no-build-isolation . && pip check",
    ]
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert "secantusdb" in " ".join(extras["local"]).lower()


def test_runs_as_non_root_under_tini() -> None:
    runtime = final_stage()
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users == ["10001:10001"]
    (entrypoint,) = [rest for keyword, rest in runtime if keyword == "ENTRYPOINT"]
    assert entrypoint == '["/usr/bin/tini", "--", "appointment-service"]'
    assert [rest for keyword, rest in runtime if keyword == "CMD"] == ['["api"]']
    assert any(
        "install" in rest and "tini" in rest for keyword, rest in runtime if keyword == "RUN"
    )


def test_environment_and_labels() -> None:
    runtime = " ".join(rest for keyword, rest in final_stage() if keyword in {"ENV", "LABEL"})
    for needed in (
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONUNBUFFERED=1",
        "APPOINTMENTS_API_HOST=0.0.0.0",
        "APPOINTMENTS_WORKER_METRICS_HOST=0.0.0.0",
        "org.opencontainers.image.title=",
        "org.opencontainers.image.version=",
        "org.opencontainers.image.revision=",
    ):
        assert needed in runtime, needed


def test_healthcheck_asks_the_api_liveness_endpoint() -> None:
    (check,) = [rest for keyword, rest in final_stage() if keyword == "HEALTHCHECK"]
    assert "/health/live" in check
    assert "APPOINTMENTS_API_PORT" in check  # follows the port setting
    assert "curl" not in check  # the slim image has none; Python's urllib is there
    argv = json.loads(check[check.index("CMD") + 3 :])
    assert argv[:2] == ["python", "-c"]
    compile(argv[2], "HEALTHCHECK", "exec")


# --- the build context ----------------------------------------------------------------


def glob_to_regex(pattern: str) -> str:
    """Docker's .dockerignore globs (Go's filepath.Match plus ``**``) as a regex."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1].replace("[!", "[^"), end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


def dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """(excludes?, regex) in file order. Docker's rules: the last pattern that matches
    wins, and a pattern that matches a folder also matches everything below it."""
    patterns = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            exclude = not line.startswith("!")
            regex = glob_to_regex(line.lstrip("!").strip("/"))
            patterns.append((exclude, re.compile(rf"{regex}(/.*)?")))
    return patterns


def in_context(path: str) -> bool:
    excluded = False
    for exclude, pattern in dockerignore_patterns():
        if pattern.fullmatch(path):
            excluded = exclude
    return not excluded


def test_the_context_is_the_package() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    tool_settings = project["tool"]["setuptools"]
    packages = [p.rstrip("*") for p in tool_settings["packages"]["find"]["include"]]
    needed = ["pyproject.toml", "README.md"]
    needed += [f"{module}.py" for module in tool_settings["py-modules"]]
    needed += [f"{package}/__init__.py" for package in packages]
    for path in needed:
        assert (REPO / path).is_file(), path
        assert in_context(path), f"{path} is not in the build context (.dockerignore)"
    assert in_context("messaging/schemas/appointment-event.v1.schema.json")
    assert in_context("requirements/runtime.lock")
    assert not in_context("requirements/dev.lock")


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".local/jwt-secret",
        ".venv/bin/python",
        ".git/config",
        "bench/__init__.py",
        "tests/unit/__init__.py",
        "deploy/base/kustomization.yaml",
        "docker-compose.yml",
        "api/__pycache__/app.cpython-311.pyc",
        "appointment_service.egg-info/PKG-INFO",
    ],
)
def test_the_context_leaves_out(path: str) -> None:
    assert not in_context(path)


# Run from a checkout, never in the image: the tests and the benchmark.
CHECKOUT_ONLY = {"tests", "bench"}


def test_every_top_level_package_is_in_the_context() -> None:
    """A new package folder must be admitted by .dockerignore too, or the image breaks."""
    for folder in REPO.iterdir():
        if (folder / "__init__.py").is_file() and folder.name not in CHECKOUT_ONLY:
            assert in_context(f"{folder.name}/__init__.py"), folder.name
