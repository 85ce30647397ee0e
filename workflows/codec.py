"""Temporal payload encryption: a ``PayloadCodec`` with AES-256-GCM, used by the API and
the worker alike (``workflows.client.connect_temporal``), and by the API's ``/codec``
endpoint that decrypts for the Temporal Web UI.

An encrypted payload's metadata is ``encoding: binary/encrypted`` and
``encryption-key-id: <key id>``; its data is a random 12-byte nonce followed by the
AES-GCM ciphertext (and tag) of the original Payload, serialized (its own metadata, the
pydantic converter's ``json/plain``, included). The key id is authenticated too (the
associated data), so a payload cannot be passed off as another key's.

Keys have ids. The current key encrypts; every listed key decrypts, so a key is rotated
by listing a new one last and keeping the old ones while histories still need them. A
payload of an unknown key id, or one whose ciphertext was changed, is refused with
:class:`PayloadDecryptionError`. A payload that is not encrypted (a history recorded
before encryption was turned on) is passed through as it is.

With ``payload_encryption`` off there is no codec at all: the data converter is the
pydantic one, exactly as before.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from config import Settings
from config.transport import secret

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12
_TAG_BYTES = 16
_KEY_ID_RULE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_ENTRY_SEPARATORS = re.compile(r"[\s,]+")
LOCAL_KEY_ID = "local-1"


class PayloadKeyError(ValueError):
    """Payload encryption is on, but its keys are missing or malformed (a startup error)."""


class PayloadDecryptionError(ValueError):
    """An encrypted payload that cannot be decrypted: an unknown key id, or a ciphertext
    (or key id) changed since it was encrypted."""


@dataclass(frozen=True)
class PayloadKeys:
    """The keys by id, and the id of the one that encrypts."""

    keys: Mapping[str, bytes]
    current: str

    def __post_init__(self) -> None:
        if not self.keys:
            raise PayloadKeyError("no payload encryption key is configured")
        for key_id, key in self.keys.items():
            if not _KEY_ID_RULE.match(key_id):
                raise PayloadKeyError(
                    f"payload key id {key_id!r}: use 1-64 letters, digits, '.', '_' or '-'"
                )
            if len(key) != KEY_BYTES:
                raise PayloadKeyError(
                    f"payload key {key_id!r} has {len(key)} bytes; AES-256 needs {KEY_BYTES}"
                )
        if self.current not in self.keys:
            raise PayloadKeyError(
                f"the current payload key {self.current!r} is not among the keys "
                f"({', '.join(self.keys)})"
            )

    @classmethod
    def parse(cls, text: str, current: str | None = None) -> PayloadKeys:
        """Keys written as ``<key id>=<base64 key>``, separated by commas, spaces or line
        breaks; ``#`` starts a comment. The current key is ``current``, else the last."""
        keys: dict[str, bytes] = {}
        lines = (line.split("#", 1)[0] for line in text.splitlines())
        for entry in _ENTRY_SEPARATORS.split(" ".join(lines)):
            if not entry:
                continue
            key_id, equals, encoded = entry.partition("=")
            if not (equals and key_id and encoded):
                raise PayloadKeyError("a payload key must be written <key id>=<base64 key>")
            if key_id in keys:
                raise PayloadKeyError(f"payload key id {key_id!r} is listed twice")
            try:
                keys[key_id] = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise PayloadKeyError(f"payload key {key_id!r} is not valid base64") from None
        if not keys:
            raise PayloadKeyError("no payload encryption key is configured")
        return cls(keys, current or list(keys)[-1])

    @classmethod
    def from_settings(cls, settings: Settings) -> PayloadKeys:
        """``payload_keys`` or ``payload_keys_file`` if either is set, else the file in
        the data folder (the local stack's)."""
        if settings.payload_keys is not None or settings.payload_keys_file is not None:
            text = secret(settings, "payload_keys") or ""
        else:
            path = settings.payload_keys_path
            try:
                text = path.read_text("utf-8")
            except FileNotFoundError:
                raise PayloadKeyError(
                    "payload encryption is on but no key is configured: set "
                    "APPOINTMENTS_PAYLOAD_KEYS or APPOINTMENTS_PAYLOAD_KEYS_FILE "
                    f"(or write {path})"
                ) from None
        return cls.parse(text, settings.payload_key_id)


def new_key() -> str:
    """A fresh key, base64: 32 random bytes."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def ensure_local_payload_keys(path: Path) -> None:
    """The local stack's key file: one key, generated on first run, kept (0600) in the
    data folder so histories stay readable across restarts."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(
            "# Temporal payload keys, <key id>=<base64 key>; the last one encrypts.\n"
            f"{LOCAL_KEY_ID}={new_key()}\n"
        )


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over whole payloads, by key id (module docstring)."""

    def __init__(self, keys: PayloadKeys) -> None:
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.keys.items()}
        self._current = keys.current

    @property
    def current_key_id(self) -> str:
        return self._current

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(payload) for payload in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        key_id = self._current.encode()
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._ciphers[self._current].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed)

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # not encrypted (recorded before encryption was on): as it is
        key_id = payload.metadata.get(KEY_ID, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            known = ", ".join(sorted(self._ciphers))
            raise PayloadDecryptionError(
                f"payload encrypted with key id {key_id!r}, which is not configured "
                f"(known: {known})"
            )
        data = payload.data
        if len(data) < NONCE_BYTES + _TAG_BYTES:
            raise PayloadDecryptionError(f"encrypted payload (key id {key_id!r}) is truncated")
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id.encode())
            return Payload.FromString(plain)
        except (InvalidTag, DecodeError):
            raise PayloadDecryptionError(
                f"encrypted payload (key id {key_id!r}) does not authenticate: it was changed "
                "after encryption, or encrypted with another key of that id"
            ) from None


def payload_codec(settings: Settings) -> EncryptionCodec | None:
    """The codec the settings ask for: None with payload encryption off."""
    if not settings.payload_encryption:
        return None
    return EncryptionCodec(PayloadKeys.from_settings(settings))


def encrypted(codec: PayloadCodec) -> DataConverter:
    """The pydantic data converter with ``codec`` over every payload. Failures carry
    their message and stack trace in an (encrypted) payload too: a refusal's message may
    name a patient."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def data_converter(settings: Settings) -> DataConverter:
    """What every Temporal client of the service converts with (API, worker, tools)."""
    codec = payload_codec(settings)
    return pydantic_data_converter if codec is None else encrypted(codec)
