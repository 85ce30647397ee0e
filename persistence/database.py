"""Connecting to MongoDB and initialising Beanie (which also creates the indexes)."""

from __future__ import annotations

from typing import Any

from beanie import init_beanie
from pymongo import AsyncMongoClient

from config import Settings
from config.transport import TransportSettingsError, secret, setting_path, variable
from persistence.documents import DOCUMENT_MODELS


def client_options(settings: Settings) -> dict[str, Any]:
    """PyMongo's options beside the URI: TLS and credentials from the settings.

    None by default: the URI alone decides, as before (it may carry ``tls=true``, the
    user and password, ``authSource``; ``mongodb+srv://`` turns TLS on by itself). The
    settings add what comes from mounted files: a private CA, a client certificate (PEM
    with its key), a password file. Keyword options win over the URI's."""
    options: dict[str, Any] = {}
    ca = setting_path(settings, "mongo_tls_ca_file")
    certificate = setting_path(settings, "mongo_tls_certificate_key_file")
    if settings.mongo_tls or ca is not None or certificate is not None:
        options["tls"] = True
    if ca is not None:
        options["tlsCAFile"] = str(ca)
    if certificate is not None:
        options["tlsCertificateKeyFile"] = str(certificate)
    password = secret(settings, "mongo_password")
    if password is not None and settings.mongo_username is None:
        raise TransportSettingsError(
            f"{variable('mongo_password')} (or _FILE) is set without {variable('mongo_username')}"
        )
    if settings.mongo_username is not None:
        options["username"] = settings.mongo_username
    if password is not None:
        options["password"] = password
    return options


def open_client(settings: Settings) -> AsyncMongoClient[Any]:
    """A client of the settings' MongoDB (it connects in the background, on first use)."""
    return AsyncMongoClient(settings.mongo_uri, tz_aware=True, **client_options(settings))


async def connect(settings: Settings) -> AsyncMongoClient[Any]:
    client = open_client(settings)
    await init_beanie(
        database=client[settings.mongo_database],
        document_models=DOCUMENT_MODELS,
    )
    return client
