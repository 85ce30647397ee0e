"""The status machine of ARCHITECTURE §4: every edge of the table, allowed or not."""

from __future__ import annotations

from itertools import product

import pytest

from domain.errors import IllegalTransition
from domain.status import (
    ACTIVE_STATUSES,
    TRANSITIONS,
    AppointmentStatus,
    can_transition,
    ensure_transition,
)

S = AppointmentStatus

# Written out by hand from ARCHITECTURE §4 rather than read from ``TRANSITIONS``, so a
# change to the table is a deliberate change to this test too.
EXPECTED_EDGES: set[tuple[AppointmentStatus, AppointmentStatus]] = {
    (S.PENDING, S.SCHEDULED),
    (S.PENDING, S.FAILED),
    (S.SCHEDULED, S.CONFIRMED),
    (S.SCHEDULED, S.CHECKED_IN),
    (S.SCHEDULED, S.CANCELLED),
    (S.SCHEDULED, S.NO_SHOW),
    (S.CONFIRMED, S.CHECKED_IN),
    (S.CONFIRMED, S.CANCELLED),
    (S.CONFIRMED, S.NO_SHOW),
    (S.CHECKED_IN, S.COMPLETED),
}

ALL_PAIRS = list(product(AppointmentStatus, AppointmentStatus))
ALLOWED = [pair for pair in ALL_PAIRS if pair in EXPECTED_EDGES]
FORBIDDEN = [pair for pair in ALL_PAIRS if pair not in EXPECTED_EDGES]


def _ids(pair: tuple[AppointmentStatus, AppointmentStatus]) -> str:
    return f"{pair[0]}->{pair[1]}"


def test_table_has_exactly_the_expected_edges() -> None:
    assert set(TRANSITIONS) == set(AppointmentStatus)
    table = {(current, target) for current, targets in TRANSITIONS.items() for target in targets}
    assert table == EXPECTED_EDGES


@pytest.mark.parametrize("pair", ALLOWED, ids=_ids)
def test_allowed_transition(pair: tuple[AppointmentStatus, AppointmentStatus]) -> None:
    current, target = pair
    assert can_transition(current, target)
    ensure_transition(current, target)  # does not raise


@pytest.mark.parametrize("pair", FORBIDDEN, ids=_ids)
def test_forbidden_transition_names_the_current_status(
    pair: tuple[AppointmentStatus, AppointmentStatus],
) -> None:
    current, target = pair
    assert not can_transition(current, target)
    with pytest.raises(IllegalTransition) as caught:
        ensure_transition(current, target)
    # The 409 answer quotes the current status, so the error must carry it.
    assert caught.value.current == current.value
    assert caught.value.target == target.value
    assert current.value in caught.value.detail


def test_no_status_may_transition_to_itself() -> None:
    assert all(status not in TRANSITIONS[status] for status in AppointmentStatus)


def test_terminal_statuses() -> None:
    terminal = {status for status in AppointmentStatus if status.is_terminal}
    assert terminal == {S.COMPLETED, S.CANCELLED, S.NO_SHOW, S.FAILED}


def test_active_statuses_are_exactly_the_non_terminal_ones() -> None:
    # The unique partial index frees a doctor's time exactly when the appointment ends.
    assert {s for s in AppointmentStatus if not s.is_terminal} == ACTIVE_STATUSES
    assert {s for s in AppointmentStatus if s.occupies_slot} == ACTIVE_STATUSES
