"""The Temporal payload codec (workflows/codec.py): AES-256-GCM by key id, rotation,
refusal of what was tampered with, plaintext passed through, and the keys from settings."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter

from config import load_settings
from config.transport import TransportSettingsError
from workflows.codec import (
    ENCODING,
    KEY_ID,
    LOCAL_KEY_ID,
    EncryptionCodec,
    PayloadDecryptionError,
    PayloadKeyError,
    PayloadKeys,
    data_converter,
    ensure_local_payload_keys,
    new_key,
    payload_codec,
)

OLD, NEW = new_key(), new_key()
SECRET = b'{"patient_id":"pat-anna-schmidt","reason":"Persistent cough"}'


def plain(data: bytes = SECRET) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def codec(text: str, current: str | None = None) -> EncryptionCodec:
    return EncryptionCodec(PayloadKeys.parse(text, current))


async def test_round_trip_hides_the_data_and_names_the_key() -> None:
    payload = plain()
    [sealed] = await codec(f"k1={OLD}").encode([payload])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID] == b"k1"
    assert b"json/plain" not in sealed.SerializeToString()
    assert b"pat-anna" not in sealed.data
    assert b"cough" not in sealed.data
    assert await codec(f"k1={OLD}").decode([sealed]) == [payload]


async def test_the_same_payload_encrypts_differently_each_time() -> None:
    first, second = await codec(f"k1={OLD}").encode([plain(), plain()])
    assert first.data != second.data  # a fresh nonce each time


async def test_rotation_the_last_key_encrypts_and_the_old_one_still_decrypts() -> None:
    [old] = await codec(f"k1={OLD}").encode([plain(b"old")])
    rotated = codec(f"k1={OLD}\nk2={NEW}")
    assert rotated.current_key_id == "k2"
    [new] = await rotated.encode([plain(b"new")])
    assert new.metadata[KEY_ID] == b"k2"
    assert [p.data for p in await rotated.decode([old, new])] == [b"old", b"new"]


async def test_the_current_key_can_be_named() -> None:
    chosen = codec(f"k1={OLD},k2={NEW}", current="k1")
    [sealed] = await chosen.encode([plain()])
    assert sealed.metadata[KEY_ID] == b"k1"


async def test_an_unknown_key_id_is_refused_clearly() -> None:
    [sealed] = await codec(f"gone={OLD}").encode([plain()])
    with pytest.raises(PayloadDecryptionError, match="key id 'gone', which is not configured"):
        await codec(f"k2={NEW}").decode([sealed])


@pytest.mark.parametrize("where", ["ciphertext", "nonce", "key-id", "other-key-same-id"])
async def test_a_tampered_payload_is_refused(where: str) -> None:
    [sealed] = await codec(f"k1={OLD},k2={NEW}", current="k1").encode([plain()])
    data = bytearray(sealed.data)
    reader = codec(f"k1={OLD},k2={NEW}")
    if where == "ciphertext":
        data[-20] ^= 1
    elif where == "nonce":
        data[0] ^= 1
    elif where == "key-id":
        sealed.metadata[KEY_ID] = b"k2"  # authenticated: another id does not decrypt it
    else:
        reader = codec(f"k1={NEW}")
    sealed.data = bytes(data)
    with pytest.raises(PayloadDecryptionError, match="does not authenticate"):
        await reader.decode([sealed])


async def test_a_truncated_payload_is_refused() -> None:
    [sealed] = await codec(f"k1={OLD}").encode([plain()])
    sealed.data = sealed.data[:10]
    with pytest.raises(PayloadDecryptionError, match="truncated"):
        await codec(f"k1={OLD}").decode([sealed])


async def test_payloads_that_are_not_encrypted_pass_through() -> None:
    """Histories recorded before encryption was on still replay and read."""
    payloads = [plain(), Payload(metadata={"encoding": b"binary/null"}), Payload()]
    assert await codec(f"k1={OLD}").decode(payloads) == payloads


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "no payload encryption key"),
        ("# only a comment\n", "no payload encryption key"),
        (f"{OLD}", "must be written <key id>=<base64 key>"),
        ("k1=not*base64", "not valid base64"),
        ("k1=c2hvcnQ=", "has 5 bytes; AES-256 needs 32"),
        (f"k 1={OLD}", "must be written"),  # the space splits it: "k" then "1=..."
        (f"k/1={OLD}", "use 1-64 letters"),
        (f"k1={OLD},k1={NEW}", "listed twice"),
    ],
)
def test_malformed_keys_are_refused(text: str, complaint: str) -> None:
    with pytest.raises(PayloadKeyError, match=complaint):
        PayloadKeys.parse(text)


def test_a_current_key_that_is_not_listed_is_refused() -> None:
    with pytest.raises(PayloadKeyError, match="'k9' is not among the keys"):
        PayloadKeys.parse(f"k1={OLD}", current="k9")


def test_the_key_file_takes_comments_and_one_key_a_line(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"# rotated 2030-01\nk1={OLD}  # old\n\nk2={NEW}\n")
    settings = load_settings(payload_encryption=True, payload_keys_file=keys)
    found = PayloadKeys.from_settings(settings)
    assert (list(found.keys), found.current) == (["k1", "k2"], "k2")


def test_keys_from_the_environment_win_and_name_the_current_one() -> None:
    settings = load_settings(
        payload_encryption=True, payload_keys=f"k1={OLD},k2={NEW}", payload_key_id="k1"
    )
    assert PayloadKeys.from_settings(settings).current == "k1"


def test_keys_given_twice_are_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"k1={OLD}\n")
    settings = load_settings(payload_keys=f"k1={OLD}", payload_keys_file=keys)
    with pytest.raises(TransportSettingsError, match="both set"):
        PayloadKeys.from_settings(settings)


def test_encryption_on_without_any_key_fails_at_start(tmp_path: Path) -> None:
    settings = load_settings(payload_encryption=True, data_dir=tmp_path)
    with pytest.raises(PayloadKeyError, match="APPOINTMENTS_PAYLOAD_KEYS"):
        data_converter(settings)


def test_the_local_key_file_is_made_once_and_private(tmp_path: Path) -> None:
    settings = load_settings(payload_encryption=True, data_dir=tmp_path / "data")
    ensure_local_payload_keys(settings.payload_keys_path)
    first = settings.payload_keys_path.read_text()
    assert stat.S_IMODE(settings.payload_keys_path.stat().st_mode) == 0o600
    ensure_local_payload_keys(settings.payload_keys_path)
    assert settings.payload_keys_path.read_text() == first
    assert PayloadKeys.from_settings(settings).current == LOCAL_KEY_ID


def test_encryption_off_changes_nothing() -> None:
    settings = load_settings(payload_encryption=False, payload_keys=f"k1={OLD}")
    assert payload_codec(settings) is None
    assert data_converter(settings) is pydantic_data_converter


def test_encryption_on_keeps_the_pydantic_converter_and_adds_the_codec() -> None:
    converter = data_converter(load_settings(payload_encryption=True, payload_keys=f"k={OLD}"))
    assert isinstance(converter.payload_codec, EncryptionCodec)
    assert converter.payload_converter_class is pydantic_data_converter.payload_converter_class


def test_the_codec_origins_default_to_the_web_ui_and_can_be_set() -> None:
    assert load_settings(temporal_ui_url="http://127.0.0.1:9233/").codec_origins == [
        "http://127.0.0.1:9233"
    ]
    assert load_settings(codec_allowed_origins=["https://temporal.example.com/"]).codec_origins == [
        "https://temporal.example.com"
    ]
