"""config/transport.py: the transport settings' optional fields, their secrets from a
value or a mounted file, and the errors a broken setting gives at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import load_settings
from config.settings import Settings
from config.transport import TransportSettingsError, read_setting_file, secret, variable
from messaging.kafka import security_options
from persistence.database import client_options
from workflows.client import api_key, tls_config

FILE_SETTINGS = sorted(
    name
    for name in Settings.model_fields
    if name.startswith(("temporal_", "kafka_", "mongo_"))
    if name.endswith("_file")
)


def test_the_defaults_keep_every_connection_plaintext_as_before() -> None:
    settings = load_settings()
    assert tls_config(settings) is False
    assert api_key(settings) is None
    assert security_options(settings) == {}  # aiokafka's own defaults: PLAINTEXT
    assert client_options(settings) == {}  # the URI alone, as before


def test_an_empty_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose passes an unset ``${VAR:-}`` as an empty string: not the path ".", not an
    empty password."""
    for name in (*FILE_SETTINGS, "kafka_sasl_mechanism", "kafka_sasl_password", "mongo_username"):
        monkeypatch.setenv(variable(name), "")
    settings = Settings()
    for name in (*FILE_SETTINGS, "kafka_sasl_mechanism", "kafka_sasl_password", "mongo_username"):
        assert getattr(settings, name) is None, name


def test_file_settings_are_the_ones_with_secrets_or_certificates() -> None:
    assert FILE_SETTINGS == [
        "kafka_sasl_password_file",
        "kafka_ssl_ca_file",
        "kafka_ssl_cert_file",
        "kafka_ssl_key_file",
        "mongo_password_file",
        "mongo_tls_ca_file",
        "mongo_tls_certificate_key_file",
        "temporal_api_key_file",
        "temporal_tls_ca_file",
        "temporal_tls_cert_file",
        "temporal_tls_key_file",
    ]


def test_secrets_are_never_shown() -> None:
    settings = load_settings(kafka_sasl_password="hunter2", temporal_api_key="key-1")
    assert "hunter2" not in repr(settings)
    assert "key-1" not in str(settings.model_dump())


def test_a_secret_comes_from_its_value_or_its_file(tmp_path: Path) -> None:
    assert secret(load_settings(kafka_sasl_password="from-env"), "kafka_sasl_password") == (
        "from-env"
    )
    mounted = tmp_path / "password"
    mounted.write_text("from-file\n")  # a Secret or `echo` leaves a line break
    settings = load_settings(kafka_sasl_password_file=mounted)
    assert secret(settings, "kafka_sasl_password") == "from-file"
    assert secret(load_settings(), "kafka_sasl_password") is None


def test_a_secret_given_twice_is_refused(tmp_path: Path) -> None:
    mounted = tmp_path / "key"
    mounted.write_text("from-file")
    settings = load_settings(temporal_api_key="from-env", temporal_api_key_file=mounted)
    with pytest.raises(TransportSettingsError) as error:
        secret(settings, "temporal_api_key")
    assert str(error.value) == (
        "APPOINTMENTS_TEMPORAL_API_KEY and APPOINTMENTS_TEMPORAL_API_KEY_FILE are both set; set one"
    )


def test_a_missing_file_names_the_variable_and_the_path(missing: Path) -> None:
    settings = load_settings(kafka_sasl_password_file=missing)
    with pytest.raises(TransportSettingsError) as error:
        secret(settings, "kafka_sasl_password")
    assert str(error.value) == f"APPOINTMENTS_KAFKA_SASL_PASSWORD_FILE={missing}: no such file"


def test_an_empty_file_or_a_folder_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("\n")
    with pytest.raises(TransportSettingsError, match=r"_CA_FILE=.*empty\.pem: the file is empty"):
        read_setting_file(load_settings(mongo_tls_ca_file=empty), "mongo_tls_ca_file")
    with pytest.raises(TransportSettingsError, match="a folder, not a file"):
        read_setting_file(load_settings(mongo_tls_ca_file=tmp_path), "mongo_tls_ca_file")
