"""Who may do what: the permission matrix, enforced here and only here, for REST and
GraphQL alike. The README shows the same table."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"
    DOCTOR = "doctor"
    PATIENT = "patient"


class Action(StrEnum):
    BOOK = "book"
    READ = "read"
    LIST = "list"
    CANCEL = "cancel"
    RESCHEDULE = "reschedule"
    CONFIRM = "confirm"
    CHECK_IN = "check-in"
    COMPLETE = "complete"
    NO_SHOW = "no-show"
    EDIT = "edit"
    DELETE = "delete"
    MAINTAIN = "maintain"
    SCHEDULE = "schedule"  # read a doctor's schedule: who comes when (names patients)
    FREE_SLOTS = "free-slots"  # see when a doctor is free: no one's personal data
    DOCTOR_PROFILES = "doctor-profiles"  # a doctor's name, specialty, planning horizon
    # Decrypt Temporal payloads (the API's /codec, for the Web UI): every patient's data.
    DECODE_PAYLOADS = "decode-payloads"
    # Reverse a wrongly recorded no-show within 24 h (the patient did come): voids its fee.
    REVERSE_NO_SHOW = "reverse-no-show"
    # The waitlist (application/waitlist.py): "own" is the entry's patient (or doctor).
    JOIN_WAITLIST = "join-waitlist"  # put a patient on the waitlist
    READ_WAITLIST = "read-waitlist"  # read and list entries, with their offers
    LEAVE_WAITLIST = "leave-waitlist"  # take an entry off
    ANSWER_OFFER = "answer-offer"  # accept or decline a waitlist offer


class Scope(StrEnum):
    ANY = "any"  # every appointment
    OWN = "own"  # only the caller's own: patient_id (patient) or doctor_id (doctor) == sub
    NONE = "none"


A, R = Action, Role
_ANY, _OWN, _NONE = Scope.ANY, Scope.OWN, Scope.NONE

# Rows: actions. Columns: admin, staff, doctor, patient.
MATRIX: dict[Action, dict[Role, Scope]] = {
    action: dict(zip((R.ADMIN, R.STAFF, R.DOCTOR, R.PATIENT), scopes, strict=True))
    for action, scopes in {
        A.BOOK: (_ANY, _ANY, _NONE, _OWN),
        A.READ: (_ANY, _ANY, _OWN, _OWN),
        A.LIST: (_ANY, _ANY, _OWN, _OWN),
        A.CANCEL: (_ANY, _ANY, _NONE, _OWN),
        A.RESCHEDULE: (_ANY, _ANY, _NONE, _OWN),
        A.CONFIRM: (_ANY, _ANY, _NONE, _OWN),
        A.CHECK_IN: (_ANY, _ANY, _OWN, _NONE),
        A.COMPLETE: (_ANY, _ANY, _OWN, _NONE),
        A.NO_SHOW: (_ANY, _ANY, _OWN, _NONE),
        A.EDIT: (_ANY, _ANY, _NONE, _OWN),
        A.DELETE: (_ANY, _NONE, _NONE, _NONE),
        A.MAINTAIN: (_ANY, _NONE, _NONE, _NONE),
        A.SCHEDULE: (_ANY, _ANY, _OWN, _NONE),
        A.FREE_SLOTS: (_ANY, _ANY, _ANY, _ANY),
        A.DOCTOR_PROFILES: (_ANY, _ANY, _ANY, _ANY),
        A.DECODE_PAYLOADS: (_ANY, _NONE, _NONE, _NONE),
        A.REVERSE_NO_SHOW: (_ANY, _ANY, _NONE, _NONE),
        A.JOIN_WAITLIST: (_ANY, _ANY, _NONE, _OWN),
        A.READ_WAITLIST: (_ANY, _ANY, _OWN, _OWN),
        A.LEAVE_WAITLIST: (_ANY, _ANY, _NONE, _OWN),
        A.ANSWER_OFFER: (_ANY, _ANY, _NONE, _OWN),
    }.items()
}


# SMART on FHIR v2 scopes (``<context>/<resource>.<cruds>``, e.g. ``patient/Appointment.rs``)
# on the one matrix: the resource and the permission letter each action needs. A token
# with a ``scope`` claim may do an action only if its role may (the matrix) AND one of its
# scopes grants this resource (or ``*``) with this letter: c create, r read, u update,
# d delete, s search. Every door asks ``authorize``, so every door checks scopes. The
# README's scope table is this one.
SMART_SCOPE_NEEDS: dict[Action, tuple[str, str]] = {
    A.BOOK: ("Appointment", "c"),
    A.READ: ("Appointment", "r"),
    A.LIST: ("Appointment", "s"),
    A.CANCEL: ("Appointment", "u"),
    A.RESCHEDULE: ("Appointment", "u"),
    A.CONFIRM: ("Appointment", "u"),
    A.CHECK_IN: ("Appointment", "u"),
    A.COMPLETE: ("Appointment", "u"),
    A.NO_SHOW: ("Appointment", "u"),
    A.EDIT: ("Appointment", "u"),
    A.DELETE: ("Appointment", "d"),
    A.MAINTAIN: ("*", "u"),  # no FHIR resource: a wildcard scope only
    A.SCHEDULE: ("Appointment", "s"),  # a doctor's day: their appointments
    A.FREE_SLOTS: ("Slot", "s"),
    A.DOCTOR_PROFILES: ("Schedule", "r"),
    A.DECODE_PAYLOADS: ("*", "r"),  # no FHIR resource: a wildcard scope only
    A.REVERSE_NO_SHOW: ("Appointment", "u"),
    # a waitlist entry is an Appointment with status ``waitlist``
    A.JOIN_WAITLIST: ("Appointment", "c"),
    A.READ_WAITLIST: ("Appointment", "r"),
    A.LEAVE_WAITLIST: ("Appointment", "u"),
    A.ANSWER_OFFER: ("Appointment", "u"),
}
SMART_CONTEXTS = ("patient", "user", "system")
# SMART v1's suffixes, read as the v2 letters they stand for.
_V1_LETTERS = {"read": "rs", "write": "cud", "*": "cruds"}


def smart_grants(scope: str) -> tuple[str, str, frozenset[str]] | None:
    """(context, resource, letters) of a SMART resource scope; None for any other scope
    (``openid``, ``fhirUser``, ``launch/patient``, ``offline_access``, and one with a
    ``?`` query, which this server does not narrow by: it grants nothing)."""
    context, slash, rest = scope.partition("/")
    resource, dot, letters = rest.partition(".")
    if not slash or not dot or context not in SMART_CONTEXTS or not resource or "?" in scope:
        return None
    letters = _V1_LETTERS.get(letters, letters)
    if (
        not letters
        or any(c not in "cruds" for c in letters)
        or letters != "".join(c for c in "cruds" if c in letters)
    ):
        return None
    return context, resource, frozenset(letters)


def scopes_allow(scopes: frozenset[str], action: Action) -> bool:
    """Whether one of ``scopes`` grants what ``action`` needs (``SMART_SCOPE_NEEDS``)."""
    resource, letter = SMART_SCOPE_NEEDS[action]
    for scope in scopes:
        granted = smart_grants(scope)
        if granted is None:
            continue
        _, theirs, letters = granted
        if theirs in (resource, "*") and letter in letters:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller. ``scopes``: the token's SMART scopes, which narrow what
    the role may (None: the token had no ``scope`` claim, the role decides alone)."""

    subject: str  # patient id for patients, doctor id for doctors, a user id otherwise
    role: Role
    scopes: frozenset[str] | None = None

    @property
    def actor(self) -> str:
        """How the caller appears in the audit trail."""
        return f"{self.role.value}:{self.subject}"


@dataclass(frozen=True, slots=True)
class Owners:
    """Whose appointment it is."""

    patient_id: str
    doctor_id: str


class Forbidden(Exception):
    """A valid caller without the right to this action (HTTP 403)."""


class NotVisible(Exception):
    """Someone else's appointment. Answered as if it did not exist (HTTP 404), so a
    caller cannot learn which appointments exist."""


_WHAT = {
    Action.SCHEDULE: "read doctors' schedules",
    Action.FREE_SLOTS: "see free slots",
    Action.DOCTOR_PROFILES: "read doctors' profiles",
    Action.DECODE_PAYLOADS: "decode Temporal payloads",
    Action.REVERSE_NO_SHOW: "reverse no-shows",
    Action.JOIN_WAITLIST: "put patients on the waitlist",
    Action.READ_WAITLIST: "read the waitlist",
    Action.LEAVE_WAITLIST: "take entries off the waitlist",
    Action.ANSWER_OFFER: "answer waitlist offers",
}


def scope_of(principal: Principal, action: Action) -> Scope:
    """The matrix's scope of the principal's role, NONE when its token's SMART scopes do
    not grant the action."""
    if principal.scopes is not None and not scopes_allow(principal.scopes, action):
        return Scope.NONE
    return MATRIX[action][principal.role]


def owns(principal: Principal, owners: Owners) -> bool:
    if principal.role is Role.PATIENT:
        return owners.patient_id == principal.subject
    if principal.role is Role.DOCTOR:
        return owners.doctor_id == principal.subject
    return False


def authorize(principal: Principal, action: Action, owners: Owners | None = None) -> None:
    """Raise Forbidden or NotVisible unless ``principal`` may do ``action`` (on the
    appointment of ``owners``, if the action concerns one)."""
    if principal.scopes is not None and not scopes_allow(principal.scopes, action):
        resource, letter = SMART_SCOPE_NEEDS[action]
        raise Forbidden(
            f"the token's scopes grant no {resource}.{letter} (e.g. user/{resource}.{letter})"
        )
    scope = scope_of(principal, action)
    if scope is Scope.NONE:
        raise Forbidden(f"a {principal.role} may not {_WHAT.get(action, f'{action} appointments')}")
    if scope is Scope.OWN and owners is not None and not owns(principal, owners):
        raise NotVisible("no such appointment")


def ensure_may_book_for(principal: Principal, patient_id: str) -> None:
    """A patient books only for themself; the request names the patient, so saying so
    (403) reveals nothing."""
    authorize(principal, Action.BOOK)
    if scope_of(principal, Action.BOOK) is Scope.OWN and patient_id != principal.subject:
        raise Forbidden("a patient may only book appointments for themself")


def ensure_may_book_over_cap(principal: Principal) -> None:
    """Booking over a patient's cap of active appointments (``over_patient_cap``) is for
    whoever may book for any patient: admin and staff (the BOOK row's "any")."""
    authorize(principal, Action.BOOK)
    if scope_of(principal, Action.BOOK) is not Scope.ANY:
        raise Forbidden("only staff and admin may book over a patient's cap")


def ensure_may_read_schedule(principal: Principal, doctor_id: str) -> None:
    """A doctor reads only their own schedule; doctor ids are no secret, so 403 says so.
    Patients never see a schedule (it names other patients): 403."""
    authorize(principal, Action.SCHEDULE)
    if scope_of(principal, Action.SCHEDULE) is Scope.OWN and doctor_id != principal.subject:
        raise Forbidden("a doctor may only read their own schedule")


def doctor_seen_by(principal: Principal, patient_id: str) -> str | None:
    """Which doctor's appointments ``principal`` may list of ``patient_id``'s (None: every
    doctor's), after the LIST row of the matrix: staff and admin any; a patient only their
    own (naming another patient is refused: the request names them, so 403 reveals
    nothing); a doctor only the appointments with them as the doctor."""
    authorize(principal, Action.LIST)
    if scope_of(principal, Action.LIST) is not Scope.OWN:
        return None
    if principal.role is Role.DOCTOR:
        return principal.subject
    if patient_id != principal.subject:
        raise Forbidden("a patient may only list their own appointments")
    return None
