"""docker-compose.yml as Compose resolves it, in plain Python: YAML anchors and merge
keys (PyYAML), ``${VAR}`` interpolation, and the short syntax of ports and volumes turned
into the long one. Only what docker-compose.yml uses is supported; anything else fails
loudly rather than resolving differently from Compose."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}; $$ is a literal $.
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}")


class InterpolationError(ValueError):
    pass


def interpolate(text: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        value = env.get(name)
        unset_or_empty = value is None or (op is not None and op.startswith(":") and not value)
        if op in {":-", "-"}:
            return arg if unset_or_empty else str(value)
        if op in {":?", "?"}:
            if unset_or_empty:
                raise InterpolationError(f"{name}: {arg}")
            return str(value)
        if op is None and not arg:
            return value or ""
        raise InterpolationError(f"unsupported interpolation {match.group(0)!r}")

    return _VARIABLE.sub(replace, text)


def _interpolate_all(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_interpolate_all(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_all(value, env) for key, value in node.items()}
    return node


def _port(spec: Any) -> dict[str, Any]:
    """ "[host_ip:][published:]target[/protocol]" -> the long syntax."""
    if isinstance(spec, dict):
        return spec
    text, _, protocol = str(spec).partition("/")
    parts = text.rsplit(":", 2)
    port: dict[str, Any] = {"target": int(parts[-1]), "protocol": protocol or "tcp"}
    if len(parts) >= 2:
        port["published"] = parts[-2]
    if len(parts) == 3:
        port["host_ip"] = parts[0]
    return port


def _volume(spec: Any, project: Path) -> dict[str, Any]:
    """ "source:target[:ro]" -> the long syntax; a source with a slash or dot is a bind."""
    if isinstance(spec, dict):
        return spec
    parts = str(spec).split(":")
    if len(parts) == 1:
        return {"type": "volume", "target": parts[0], "read_only": False}
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) > 2 else "rw"
    bind = source.startswith((".", "/", "~"))
    return {
        "type": "bind" if bind else "volume",
        "source": str((project / source).resolve()) if bind else source,
        "target": target,
        "read_only": mode == "ro",
    }


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _environment(spec: Any) -> dict[str, str]:
    if isinstance(spec, list):
        return dict(item.split("=", 1) for item in spec)
    return {key: _scalar(value) for key, value in (spec or {}).items()}


def _depends_on(spec: Any) -> dict[str, dict[str, Any]]:
    if isinstance(spec, list):
        return {name: {"condition": "service_started", "required": True} for name in spec}
    return {name: {"required": True} | dict(how) for name, how in (spec or {}).items()}


def load(path: Path, env: Mapping[str, str], profiles: set[str]) -> dict[str, Any]:
    """The compose file at ``path``, interpolated with ``env``, with the services whose
    profiles are all inactive left out (as Compose does)."""
    raw = yaml.safe_load(path.read_text())
    document: dict[str, Any] = _interpolate_all(raw, env)
    project = path.parent
    services = {}
    for name, service in document["services"].items():
        if service.get("profiles") and not set(service["profiles"]) & profiles:
            continue
        resolved = dict(service)
        if "environment" in service:
            resolved["environment"] = _environment(service["environment"])
        if "ports" in service:
            resolved["ports"] = [_port(port) for port in service["ports"]]
        if "volumes" in service:
            resolved["volumes"] = [_volume(volume, project) for volume in service["volumes"]]
        if "depends_on" in service:
            resolved["depends_on"] = _depends_on(service["depends_on"])
        if "build" in service:
            build = service["build"]
            build = {"context": build} if isinstance(build, str) else dict(build)
            build["context"] = str((project / build["context"]).resolve())
            build.setdefault("dockerfile", "Dockerfile")
            resolved["build"] = build
        for key in ("command", "entrypoint"):
            if isinstance(service.get(key), str):
                resolved[key] = service[key].split()
        services[name] = resolved
    document["services"] = services
    document["volumes"] = document.get("volumes") or {}
    return document
