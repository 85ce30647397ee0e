"""Action-link tokens (application/action_links.py): one action on one appointment, for its
patient, until its start, signed with the deployment's secret."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from application.action_links import (
    ActionGrant,
    ActionLinks,
    ActionLinkSecretMissing,
    ActionPurpose,
    ExpiredActionLink,
    ForgedActionLink,
)
from config import load_settings
from domain.model import Appointment
from domain.status import AppointmentStatus

SECRET = b"s" * 32
START = datetime(2030, 1, 8, 8, 0, tzinfo=UTC)
BEFORE = START - timedelta(hours=3)
LINKS = ActionLinks(SECRET, "https://clinic.example/")


def appointment(**changes: object) -> Appointment:
    values: dict[str, object] = {
        "id": "0b5f2c7e-4f1a-4f3e-9a51-7c1d2e3f4a5b",
        "patient_id": "pat-anna-schmidt",
        "doctor_id": "doc-on-call",
        "start": START,
        "duration_minutes": 15,
        "timezone": "Europe/Berlin",
        "status": AppointmentStatus.SCHEDULED,
        "version": 2,
        "created_at": START - timedelta(days=3),
        "updated_at": START - timedelta(days=3),
    }
    return Appointment(**(values | changes))  # type: ignore[arg-type]


def test_a_token_grants_its_purpose_on_its_appointment_to_its_patient() -> None:
    booked = appointment()
    for purpose in ActionPurpose:
        grant = LINKS.verify(LINKS.token(booked, purpose), BEFORE)

        assert grant == ActionGrant(booked.id, "pat-anna-schmidt", purpose, START)
        assert grant.is_for(booked)


def test_links_are_short_urls_under_the_public_base() -> None:
    links = LINKS.links(appointment())

    assert set(links) == {"confirm", "cancel"}
    for purpose, url in links.items():
        assert url.startswith("https://clinic.example/a/")
        assert len(url) < 110, url  # fits an SMS with room for the message
        token = url.rsplit("/", 1)[-1]
        assert LINKS.verify(token, BEFORE).purpose == purpose
    assert links["confirm"] != links["cancel"]


def test_a_token_expires_at_the_start() -> None:
    token = LINKS.token(appointment(), ActionPurpose.CONFIRM)

    assert LINKS.verify(token, START - timedelta(seconds=1)).start == START
    for now in (START, START + timedelta(days=1)):
        with pytest.raises(ExpiredActionLink) as refused:
            LINKS.verify(token, now)
        assert refused.value.start == START
        assert refused.value.reason == "expired"


def test_a_token_signed_with_another_secret_is_forged() -> None:
    theirs = ActionLinks(b"t" * 32, "https://clinic.example")
    token = theirs.token(appointment(), ActionPurpose.CANCEL)

    with pytest.raises(ForgedActionLink):
        LINKS.verify(token, BEFORE)


def _flip(token: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize(
    ("what", "index"),
    [("purpose", 1), ("start", 9), ("appointment id", 12), ("patient id", 30), ("mac", -1)],
)
def test_changing_any_part_of_a_token_forges_it(what: str, index: int) -> None:
    """Another purpose, start, appointment or patient than signed: refused."""
    token = LINKS.token(appointment(), ActionPurpose.CONFIRM)

    with pytest.raises(ForgedActionLink):
        LINKS.verify(_flip(token, index), BEFORE)


@pytest.mark.parametrize(
    "garbage",
    ["", "x", "a" * 40, "%%%", "not a token at all", "é" * 30, "A" * 5000, "AAAA" * 20],
)
def test_garbage_is_forged_never_an_error_of_another_kind(garbage: str) -> None:
    with pytest.raises(ForgedActionLink):
        LINKS.verify(garbage, BEFORE)


def test_a_token_is_void_for_a_moved_or_another_appointment() -> None:
    booked = appointment()
    grant = LINKS.verify(LINKS.token(booked, ActionPurpose.CONFIRM), BEFORE)

    moved = dataclasses.replace(booked, start=START + timedelta(days=1))
    another = dataclasses.replace(booked, id=str(uuid.uuid4()))
    someone_elses = dataclasses.replace(booked, patient_id="pat-ben-okafor")
    assert not grant.is_for(moved)
    assert not grant.is_for(another)
    assert not grant.is_for(someone_elses)
    # A new token for the new start is good, and another change than the old one's.
    regrant = LINKS.verify(LINKS.token(moved, ActionPurpose.CONFIRM), BEFORE)
    assert regrant.is_for(moved)
    assert regrant.idempotency_key != grant.idempotency_key


def test_the_idempotency_key_is_one_per_link_and_a_valid_key() -> None:
    booked = appointment()
    confirm = LINKS.verify(LINKS.token(booked, ActionPurpose.CONFIRM), BEFORE)
    again = LINKS.verify(LINKS.token(booked, ActionPurpose.CONFIRM), BEFORE)
    cancel = LINKS.verify(LINKS.token(booked, ActionPurpose.CANCEL), BEFORE)

    assert confirm.idempotency_key == again.idempotency_key
    assert confirm.idempotency_key != cancel.idempotency_key
    assert len(confirm.idempotency_key) <= 128


def test_from_settings_reads_the_value_or_the_default_file(tmp_path: Path) -> None:
    by_value = ActionLinks.from_settings(
        load_settings(data_dir=tmp_path, action_link_secret="v" * 40)
    )
    (tmp_path / "action-link-secret").write_text("f" * 40 + "\n")
    by_file = ActionLinks.from_settings(
        load_settings(data_dir=tmp_path, public_base_url="http://api.test:9000")
    )

    booked = appointment()
    token = by_file.token(booked, ActionPurpose.CONFIRM)
    assert ActionLinks(b"f" * 40, "x").verify(token, BEFORE).is_for(booked)
    assert by_file.links(booked)["confirm"] == f"http://api.test:9000/a/{token}"
    with pytest.raises(ForgedActionLink):
        by_value.verify(token, BEFORE)


def test_without_a_secret_from_settings_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ActionLinkSecretMissing, match="APPOINTMENTS_ACTION_LINK_SECRET"):
        ActionLinks.from_settings(load_settings(data_dir=tmp_path))


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        ActionLinks(b"short", "https://clinic.example")
