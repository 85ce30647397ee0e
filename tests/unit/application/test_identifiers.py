"""Every id and key a door accepts becomes a URL segment of a peer call, an HTTP header
value or part of a Temporal workflow id. Whatever string arrives, nothing a validator
accepts may carry a control character, a path separator or be a dot segment: driven with
arbitrary text (hypothesis), not with the few cases someone thought of."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from api.middleware import client_request_id
from application.errors import InvalidIdempotencyKey
from application.identifiers import AppointmentId, EntityId, IdempotencyKey, idempotency_key
from domain.errors import PeerRequestInvalid
from peers.doctors import DoctorClient

# Arbitrary text, weighted towards what matters: the characters of the allowed alphabet,
# dots, slashes and control characters, in every mix, and any other code point.
SAFE = string.ascii_letters + string.digits + "_.:-"
TRICKY = "./\\\n\r\t\x00\x7f %?#\u2028\u0085"
TEXT = st.one_of(
    st.text(alphabet=SAFE + TRICKY, max_size=140),
    st.text(max_size=140),
)
# The cases of the review, and their neighbours.
SEEN = ["x1\n", "..", ".", "", "a/b", "../x", "x1\r\n", "\tkey", "a" * 129, "é"]


def harmless(value: str) -> bool:
    """Usable as it is in a header, a URL segment and a workflow id."""
    return (
        value not in ("", ".", "..")
        and "/" not in value
        and "\\" not in value
        and all(c in SAFE for c in value)  # so: no control character, no space, ASCII only
    )


def accepted(check: Any, value: str) -> bool:
    try:
        check(value)
    except (ValidationError, InvalidIdempotencyKey, ValueError):
        return False
    return True


VALIDATORS = {
    "entity id (patient, doctor)": TypeAdapter(EntityId).validate_python,
    "idempotency key, as a model field": TypeAdapter(IdempotencyKey).validate_python,
    "idempotency key, as a header or an argument": idempotency_key,
    "appointment id": TypeAdapter(AppointmentId).validate_python,
}


def examples(test: Any) -> Any:
    for value in SEEN:
        test = example(value)(test)
    return test


@pytest.mark.parametrize("name", sorted(VALIDATORS))
def test_nothing_a_validator_accepts_is_harmful(name: str) -> None:
    check = VALIDATORS[name]

    @settings(max_examples=200, deadline=None)
    @given(value=TEXT)
    @examples
    def accepted_only_if_harmless(value: str) -> None:
        if accepted(check, value):
            assert harmless(value), repr(value)

    accepted_only_if_harmless()


@settings(max_examples=200, deadline=None)
@given(value=TEXT)
@examples
def test_the_two_ways_of_checking_a_key_agree(value: str) -> None:
    as_field = accepted(VALIDATORS["idempotency key, as a model field"], value)
    assert as_field == accepted(idempotency_key, value), repr(value)


@pytest.mark.parametrize("key", ["x1", "3f9c2e4a-booking-1", "a.b", "..x", "x..", "_", "a" * 128])
def test_ordinary_keys_still_pass(key: str) -> None:
    assert idempotency_key(key) == key
    assert TypeAdapter(IdempotencyKey).validate_python(key) == key


@settings(max_examples=200, deadline=None)
@given(value=TEXT)
@examples
def test_a_peer_url_segment_is_one_segment_or_refused(value: str) -> None:
    client = DoctorClient("http://doctors.test", 1.0)
    try:
        segment = client.segment(value)
    except PeerRequestInvalid:
        assert value in ("", ".", "..")
        return
    assert segment not in ("", ".", "..")
    assert all(c in string.ascii_letters + string.digits + "_.-~%" for c in segment), segment


@settings(max_examples=200, deadline=None)
@given(value=TEXT)
@examples
def test_a_callers_request_id_is_kept_only_when_harmless(value: str) -> None:
    kept = client_request_id(value.encode("utf-8"))
    if kept is not None:
        assert len(kept) <= 128
        assert all(c in SAFE for c in kept), repr(kept)
