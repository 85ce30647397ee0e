"""What the transport security settings (TLS, mTLS, SASL, API keys) share: the types of
their optional fields, and reading the files and secrets they name.

Every secret can be given as a value (``APPOINTMENTS_KAFKA_SASL_PASSWORD``) or as a file
(``APPOINTMENTS_KAFKA_SASL_PASSWORD_FILE``, a mounted Secret), never both. Files are read
when a process builds its clients, at its start; a missing, unreadable or empty file stops
it with a :class:`TransportSettingsError` that names the variable and the path.

The clients are built where they are used: Temporal's ``TLSConfig`` and API key in
``workflows/client.py``, the Kafka security options in ``messaging/kafka.py``, PyMongo's
TLS and credential options in ``persistence/database.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, SecretStr

if TYPE_CHECKING:
    from config.settings import Settings

PREFIX = "APPOINTMENTS_"


def _empty_is_unset(value: Any) -> Any:
    """An empty variable (``APPOINTMENTS_KAFKA_SSL_CA_FILE=``, as compose passes an unset
    ``${VAR:-}``) means unset, not the path "." or an empty password."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


OptionalPath = Annotated[Path | None, BeforeValidator(_empty_is_unset)]
OptionalStr = Annotated[str | None, BeforeValidator(_empty_is_unset)]
OptionalSecret = Annotated[SecretStr | None, BeforeValidator(_empty_is_unset)]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
OptionalSaslMechanism = Annotated[SaslMechanism | None, BeforeValidator(_empty_is_unset)]


class TransportSettingsError(ValueError):
    """Transport security settings that cannot work: a missing file, a secret given twice,
    a client certificate without its key, SASL without credentials."""


def variable(field: str) -> str:
    """The environment variable of a setting: ``kafka_ssl_ca_file`` ->
    ``APPOINTMENTS_KAFKA_SSL_CA_FILE``."""
    return PREFIX + field.upper()


def configured(settings: Settings, field: str) -> Any:
    if field not in type(settings).model_fields:
        raise AttributeError(f"Settings has no field {field!r}")
    return getattr(settings, field)


def setting_path(settings: Settings, field: str) -> Path | None:
    """The file a setting names, checked to be a readable, non-empty file; None if unset."""
    path: Path | None = configured(settings, field)
    if path is None:
        return None
    read_setting_file(settings, field)
    return path


def read_setting_file(settings: Settings, field: str) -> bytes:
    """The bytes of the file the setting ``field`` names (which must be set)."""
    path: Path | None = configured(settings, field)
    if path is None:
        raise TransportSettingsError(f"{variable(field)} is not set")
    where = f"{variable(field)}={path}"
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise TransportSettingsError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise TransportSettingsError(f"{where}: a folder, not a file") from None
    except OSError as error:
        raise TransportSettingsError(f"{where}: cannot be read ({error.strerror})") from None
    if not content.strip():
        raise TransportSettingsError(f"{where}: the file is empty")
    return content


def secret(settings: Settings, field: str) -> str | None:
    """The secret ``field`` from its value or from the file of ``<field>_file``; None if
    neither is set. A file's trailing line break (``echo`` and most editors add one) is
    not part of the secret."""
    value: SecretStr | None = configured(settings, field)
    path: Path | None = configured(settings, f"{field}_file")
    if value is not None and path is not None:
        raise TransportSettingsError(
            f"{variable(field)} and {variable(field + '_file')} are both set; set one"
        )
    if value is not None:
        return value.get_secret_value()
    if path is None:
        return None
    text = read_setting_file(settings, f"{field}_file").decode("utf-8").rstrip("\r\n")
    return text
