"""APPOINTMENTS_ENVIRONMENT=production: tokens come from the identity provider only. The
settings refuse shared-secret algorithms, a local secret file, a missing or plain-HTTP
JWKS URL and the local stacks' issuers, so no process starts with them; the ``token``
command and the local secret are refused even where the settings pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from api.security.tokens import (
    Jwks,
    LocalTokensRefused,
    TokenVerifier,
    issue_local_token,
)
from application.permissions import Role
from cli import main
from config import Settings, load_settings
from config.settings import ProductionSettingsError

JWKS_URL = "https://login.example.test/.well-known/jwks.json"
ISSUER = "https://login.example.test/"
ACTION_LINK_SECRET = "a-secret-of-the-deployment-for-action-links-0123456789"

# What a production deployment sets (deploy/base/config/appointments.env).
PRODUCTION: dict[str, Any] = {
    "environment": "production",
    "jwt_jwks_url": JWKS_URL,
    "jwt_algorithms": ["RS256"],
    "jwt_issuer": ISSUER,
    "action_link_secret": ACTION_LINK_SECRET,
}


@pytest.fixture(autouse=True)
def no_settings_from_outside(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what a test sets: no APPOINTMENTS_* of the shell running the tests."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("APPOINTMENTS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("APPOINTMENTS_DATA_DIR", str(tmp_path))


def test_production_settings_of_an_identity_provider_pass(tmp_path: Path) -> None:
    settings = load_settings(**PRODUCTION)
    assert settings.production_problems() == []
    assert isinstance(TokenVerifier.from_settings(settings)._keys, Jwks)
    assert not (tmp_path / "jwt-secret").exists()


REFUSED = [
    pytest.param({"jwt_jwks_url": None}, "APPOINTMENTS_JWT_JWKS_URL is not set", id="no-jwks"),
    pytest.param({"jwt_jwks_url": ""}, "APPOINTMENTS_JWT_JWKS_URL is not set", id="empty-jwks"),
    pytest.param(
        {"jwt_jwks_url": "http://login.example.test/jwks.json"},
        "APPOINTMENTS_JWT_JWKS_URL must be an https:// URL",
        id="plain-http-jwks",
    ),
    pytest.param({"jwt_algorithms": ["HS256"]}, "allows HS256", id="hs256"),
    pytest.param({"jwt_algorithms": ["RS256", "HS512"]}, "allows HS512", id="rs256-and-hs512"),
    pytest.param({"jwt_algorithms": ["HS384"]}, "allows HS384", id="hs384"),
    pytest.param(
        {"jwt_secret_file": "/run/secrets/jwt-secret"},
        "APPOINTMENTS_JWT_SECRET_FILE is set",
        id="secret-file",
    ),
    pytest.param(
        {"jwt_issuer": "appointment-service-local"},
        "APPOINTMENTS_JWT_ISSUER is the local stack's",
        id="local-issuer",
    ),
    pytest.param(
        {"action_link_secret": None},
        "APPOINTMENTS_ACTION_LINK_SECRET (or _FILE) is not set",
        id="no-action-link-secret",
    ),
    pytest.param(
        {"jwt_issuer": "appointment-service-compose"},
        "APPOINTMENTS_JWT_ISSUER is the local stack's",
        id="compose-issuer",
    ),
]


@pytest.mark.parametrize(("change", "named"), REFUSED)
def test_production_refuses_each_local_default(change: dict[str, Any], named: str) -> None:
    with pytest.raises(ProductionSettingsError, match="refusing to start") as refused:
        load_settings(**(PRODUCTION | change))
    assert named in str(refused.value)
    # One problem, one line: only the setting changed is named.
    assert str(refused.value).count("\n  - ") == 1


def test_production_with_nothing_set_names_every_variable_to_set() -> None:
    with pytest.raises(ProductionSettingsError) as refused:
        load_settings(environment="production")
    message = str(refused.value)
    for variable in ("JWT_JWKS_URL", "JWT_ALGORITHMS", "JWT_ISSUER"):
        assert f"APPOINTMENTS_{variable}" in message


def test_the_refusal_prints_no_setting_s_value() -> None:
    """Not a pydantic ValidationError, which would echo the input (a URI's password)."""
    with pytest.raises(ProductionSettingsError) as refused:
        load_settings(
            environment="production",
            mongo_uri="mongodb://svc:hunter2@mongo.example.test/?replicaSet=rs0",
        )
    assert not isinstance(refused.value, ValidationError)
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize("environment", ["local", "test", "demo"])
def test_outside_production_the_local_defaults_stand(environment: str) -> None:
    settings = load_settings(environment=environment, jwt_algorithms=["HS256"])
    assert settings.production_problems() == []


def test_the_environment_is_one_of_the_known_ones() -> None:
    with pytest.raises(ValidationError):
        load_settings(environment="prod")


# --- the token command and the local secret ------------------------------------------


def test_production_issues_no_local_token(tmp_path: Path) -> None:
    settings = load_settings(**PRODUCTION)
    with pytest.raises(LocalTokensRefused, match="production"):
        issue_local_token(settings, Role.ADMIN, "admin-1")
    assert not settings.jwt_secret_path.exists(), "no secret was made"


def test_production_never_verifies_with_a_local_secret(tmp_path: Path) -> None:
    """Defence in depth: settings that got past validation (built without it) still do not
    make a shared-secret verifier."""
    settings = Settings.model_construct(
        environment="production", jwt_jwks_url=None, jwt_algorithms=["HS256"], data_dir=tmp_path
    )
    (tmp_path / "jwt-secret").write_text("a-secret-someone-left-in-the-data-folder-0123456789")
    with pytest.raises(LocalTokensRefused):
        TokenVerifier.from_settings(settings)


def production_env(monkeypatch: pytest.MonkeyPatch, **changes: str) -> None:
    values = {
        "APPOINTMENTS_ENVIRONMENT": "production",
        "APPOINTMENTS_JWT_JWKS_URL": JWKS_URL,
        "APPOINTMENTS_JWT_ALGORITHMS": '["RS256"]',
        "APPOINTMENTS_JWT_ISSUER": ISSUER,
        "APPOINTMENTS_ACTION_LINK_SECRET": ACTION_LINK_SECRET,
    } | changes
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_the_token_command_is_refused_in_production(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    production_env(monkeypatch)
    with pytest.raises(SystemExit) as exited:
        main(["token", "--role", "admin", "--sub", "admin-1"])
    assert "appointment-service token:" in str(exited.value.code)
    assert "refused" in str(exited.value.code)
    assert capsys.readouterr().out == "", "no token printed"
    assert not (tmp_path / "jwt-secret").exists()


def test_the_token_command_works_outside_production(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APPOINTMENTS_ENVIRONMENT", "demo")
    main(["token", "--role", "staff", "--sub", "frontdesk-1"])
    assert capsys.readouterr().out.count(".") == 2  # header.payload.signature


@pytest.mark.parametrize(
    "argv",
    [["api"], ["worker"], ["relay"], ["projector"], ["notifications"], ["token", "--role",
     "staff", "--sub", "frontdesk-1"], ["run"]],
    ids=lambda argv: argv[0],
)  # fmt: skip
def test_no_process_starts_in_production_with_local_authentication(
    monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    """The compose demo's tokens (HS256, a secret file, its issuer) under production: every
    command stops before it starts anything, with the variables to set and no traceback."""
    production_env(
        monkeypatch,
        APPOINTMENTS_JWT_JWKS_URL="",
        APPOINTMENTS_JWT_ALGORITHMS='["HS256"]',
        APPOINTMENTS_JWT_ISSUER="appointment-service-compose",
        APPOINTMENTS_JWT_SECRET_FILE="/var/lib/appointments/jwt-secret",
    )
    with pytest.raises(SystemExit) as exited:
        main(argv)
    message = str(exited.value.code)
    assert message.startswith(f"appointment-service {argv[0]}: refusing to start")
    for variable in ("JWT_JWKS_URL", "JWT_ALGORITHMS", "JWT_SECRET_FILE", "JWT_ISSUER"):
        assert f"APPOINTMENTS_{variable}" in message
