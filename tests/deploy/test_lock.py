"""requirements/*.lock: the exact dependency set, pinned with hashes, that the Makefile
(.venv) and the Dockerfile (the image) install. Both locks must agree with pyproject.toml
(every dependency it lists pinned at a release its range allows), with each other (the
same pin for the same package), and the image's lock must hold no dev or local tool."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.deploy.tools import DOCKERFILE, REPO

RUNTIME_LOCK = REPO / "requirements" / "runtime.lock"
DEV_LOCK = REPO / "requirements" / "dev.lock"
MAKEFILE = REPO / "Makefile"
RELOCK = "run `make lock` (README: How to update the lock)"


@dataclass(frozen=True)
class Pin:
    version: Version
    hashes: frozenset[str]


def read_lock(path: Path) -> dict[str, Pin]:
    """name -> its pin; every entry must be ``name==version`` with sha256 hashes."""
    assert path.is_file(), f"{path.relative_to(REPO)} is missing; {RELOCK}"
    text = re.sub(r"\\\n", " ", path.read_text())
    pins: dict[str, Pin] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = line.split()
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)", requirement)
        assert match, f"{path.name}:{number}: not pinned with ==: {requirement!r}"
        hashes = frozenset(
            option.removeprefix("--hash=sha256:")
            for option in options
            if option.startswith("--hash=sha256:")
        )
        assert hashes, f"{path.name}:{number}: {requirement} has no sha256 hash"
        name = canonicalize_name(match.group(1))
        assert name not in pins, f"{path.name}: {name} twice"
        pins[name] = Pin(Version(match.group(2)), hashes)
    return pins


def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def requirements(entries: list[str]) -> list[Requirement]:
    """The requirements of a pyproject list, the project's own extras left out (``dev``
    names ``appointment-service[local]``: those are checked as the ``local`` list)."""
    own = canonicalize_name(pyproject()["project"]["name"])
    return [req for req in map(Requirement, entries) if canonicalize_name(req.name) != own]


def runtime_requirements() -> list[Requirement]:
    project = pyproject()
    return requirements(project["project"]["dependencies"] + project["build-system"]["requires"])


def extra_requirements() -> list[Requirement]:
    extras = pyproject()["project"]["optional-dependencies"]
    return requirements([entry for entries in extras.values() for entry in entries])


def unpinned(requirements: list[Requirement], pins: dict[str, Pin]) -> list[str]:
    """The requirements the lock does not pin at a release their range allows."""
    problems = []
    for req in requirements:
        pin = pins.get(canonicalize_name(req.name))
        if pin is None:
            problems.append(f"{req} is not in the lock")
        elif not req.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{req} but the lock pins {pin.version}")
    return problems


def test_every_runtime_dependency_is_pinned_in_both_locks() -> None:
    """pyproject.toml's dependencies and its build backend (installed from the lock, not
    by an isolated build), at a release their ranges allow."""
    for lock in (RUNTIME_LOCK, DEV_LOCK):
        problems = unpinned(runtime_requirements(), read_lock(lock))
        assert problems == [], f"{lock.name}: {problems}; {RELOCK}"


def test_every_dev_and_local_dependency_is_pinned_in_the_dev_lock() -> None:
    dev = read_lock(DEV_LOCK)
    problems = unpinned(extra_requirements(), dev)
    assert problems == [], f"dev.lock: {problems}; {RELOCK}"
    assert set(dev) == closure(runtime_requirements() + extra_requirements()), RELOCK


def closure(roots: list[Requirement]) -> set[str]:
    """The names of ``roots`` and of everything they need, with their extras, on this
    interpreter (markers evaluated), read from the installed packages' metadata."""
    seen: set[str] = set()
    pending = [(req, frozenset(req.extras)) for req in roots]
    while pending:
        req, extras = pending.pop()
        name = canonicalize_name(req.name)
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        seen.add(key)
        for entry in metadata.requires(name) or []:
            needed = Requirement(entry)
            if needed.marker is None or any(
                needed.marker.evaluate({"extra": extra}) for extra in extras or {""}
            ):
                pending.append((needed, frozenset(needed.extras)))
    return {key.partition("[")[0] for key in seen}


def test_the_runtime_lock_is_the_dev_locks_runtime_part() -> None:
    """The image and .venv run the same release, the same files, of every runtime
    package; and the image gets what the runtime dependencies need and nothing else (no
    dev or local tool, the GPL SecantusDB among them)."""
    runtime, dev = read_lock(RUNTIME_LOCK), read_lock(DEV_LOCK)
    differing = {
        name: (pin, dev.get(name)) for name, pin in runtime.items() if dev.get(name) != pin
    }
    assert differing == {}, RELOCK
    assert set(runtime) == closure(runtime_requirements()), RELOCK
    assert "secantusdb" in dev
    assert "secantusdb" not in runtime


def test_the_locks_come_from_make_lock() -> None:
    for lock in (RUNTIME_LOCK, DEV_LOCK):
        assert "#    make lock\n" in lock.read_text(), f"{lock.name}: written by hand?"


def test_this_environment_is_the_dev_lock() -> None:
    """What `make install` built: every locked package installed at its pin. A package
    installed or upgraded by hand shows here (add it to pyproject.toml, then relock)."""
    wrong = {}
    for name, pin in read_lock(DEV_LOCK).items():
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            installed = None
        if installed != pin.version:
            wrong[name] = f"locked {pin.version}, installed {installed}"
    assert wrong == {}, "run `make install`"


def test_the_makefile_installs_from_the_dev_lock() -> None:
    """Hash-checked, then the project alone; reinstalled when pyproject or the lock
    changes."""
    makefile = MAKEFILE.read_text()
    assert "DEV_LOCK := requirements/dev.lock" in makefile
    assert "pip install --quiet --require-hashes -r $(DEV_LOCK)" in makefile
    assert "pip install --quiet --no-deps --no-build-isolation -e ." in makefile
    assert "cat pyproject.toml $(DEV_LOCK) | cksum" in makefile  # the stamp's key
    assert "$(STAMP): pyproject.toml $(DEV_LOCK)" in makefile
    assert re.search(r'pip install [^\n]*"\.\[dev\]"', makefile) is None  # no resolving
    assert re.search(r"^lock:", makefile, re.MULTILINE), "the target that relocks"


def test_the_dockerfile_installs_from_the_runtime_lock() -> None:
    dockerfile = DOCKERFILE.read_text()
    assert "COPY requirements/runtime.lock requirements/runtime.lock" in dockerfile
    assert "RUN pip install --require-hashes -r requirements/runtime.lock" in dockerfile
    assert "dev.lock" not in dockerfile


# --- the checks above catch what they are for -------------------------------------------


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK])
def test_a_lock_entry_without_a_hash_is_caught(lock: Path, tmp_path: Path) -> None:
    broken = tmp_path / lock.name
    broken.write_text(re.sub(r" \\\n\s+--hash=sha256:\w+", "", lock.read_text()))
    with pytest.raises(AssertionError, match="has no sha256 hash"):
        read_lock(broken)


def test_a_dependency_added_or_raised_without_relocking_is_caught() -> None:
    pins = read_lock(DEV_LOCK)
    assert unpinned([Requirement("cryptography>=999"), Requirement("left-pad>=1")], pins) == [
        f"cryptography>=999 but the lock pins {pins['cryptography'].version}",
        "left-pad>=1 is not in the lock",
    ]
