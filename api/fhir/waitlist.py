"""Waitlist entries on the FHIR door: an active entry (WAITING or OFFERED) is an
Appointment ``waitlist`` (the ``WAITLIST`` row of api/fhir/mapping.py), read as
``Appointment/waitlist-<entry id>`` and searched with ``status=waitlist``. Through the
waitlist's own use cases (``Waitlist.read``, ``Waitlist.list``), so with its permissions:
someone else's entry reads as missing (404), as on REST.

An entry has no start and end (app-3 allows that for ``waitlist``): its window of
acceptable starts is ``requestedPeriod`` [earliest_start, latest_start]. ``priority`` is
FHIR R4's unsignedInt, which follows iCal: 0 undefined, 1 the highest, 9 the lowest; so
urgent is 1 and routine 5 (the lower number is the more urgent, as in common practice).

A FULFILLED or LEFT entry is a ``waitlist`` Appointment no more: searches leave it out,
and its read answers 410 Gone (issue ``deleted``), saying what became of it (a fulfilled
one names its booked Appointment). Not 404: its reader may read it (someone else's is 404
before this), and 410 tells a client that held the id that the thing it knew has ended,
not that it never was; a ``waitlist`` Appointment with another status would be one this
door can't write (``ours`` has no status of ours for it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from api.deps import RequesterDep, ServicesDep
from api.fhir.capability import ResourceCapability
from api.fhir.mapping import WAITLIST, instant, patient_reference, practitioner_reference
from api.fhir.resources import (
    MEDIA_TYPE,
    AppointmentResource,
    Bundle,
    CodeableConcept,
    Coding,
    Meta,
    Participant,
    Period,
    Reference,
)
from api.fhir.search import count, cursor, invalid, query_of, searchset
from api.problems import ProblemError
from application.access import Requester
from application.commands import ListWaitlist
from application.identifiers import APPOINTMENT_ID
from application.services import Services
from domain.waitlist import EntryStatus, Priority, WaitlistEntry

router = APIRouter(prefix="/Appointment", tags=["fhir"])
# The read is declared with Appointment's (api/fhir/appointments.py): one resource type.
CAPABILITIES: tuple[ResourceCapability, ...] = ()

ID_PREFIX = "waitlist-"
# Our priority -> Appointment.priority (iCal's scale: 1 highest, 9 lowest, 0 undefined).
PRIORITY: dict[Priority, int] = {Priority.URGENT: 1, Priority.ROUTINE: 5}
# The entries that read as ``waitlist``: the active ones.
ACTIVE: tuple[EntryStatus, ...] = (EntryStatus.WAITING, EntryStatus.OFFERED)

_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"


def resource_id(entry_id: str) -> str:
    """The Appointment id of a waitlist entry: ``waitlist-<entry id>`` (a UUID: 45
    characters, within FHIR's 64)."""
    return ID_PREFIX + entry_id


def waitlist_resource(entry: WaitlistEntry) -> AppointmentResource:
    """An active ``entry`` as an Appointment ``waitlist``: its window, length, priority,
    participants, and its open offer, if any, as the comment."""
    offer = entry.open_offer
    comment = f"offered {instant(offer.start)} until {instant(offer.expires_at)}" if offer else None
    return AppointmentResource(
        id=resource_id(entry.id),
        meta=Meta(
            versionId=str(entry.version), lastUpdated=instant(entry.updated_at or entry.joined_at)
        ),
        status=WAITLIST,
        priority=PRIORITY[entry.priority],
        description=entry.note,
        minutesDuration=entry.duration_minutes,
        created=instant(entry.joined_at),
        comment=comment,
        participant=[
            Participant(
                type=[_role("PART", "Participation")],
                actor=Reference(reference=patient_reference(entry.patient_id)),
                required="required",
                status="needs-action",
            ),
            Participant(
                type=[_role("PPRF", "primary performer")],
                actor=Reference(reference=practitioner_reference(entry.doctor_id)),
                required="required",
                status="needs-action",
            ),
        ],
        requestedPeriod=[
            Period(start=instant(entry.earliest_start), end=instant(entry.latest_start))
        ],
    )


def _role(code: str, display: str) -> CodeableConcept:
    return CodeableConcept(coding=[Coding(system=_PARTICIPATION, code=code, display=display)])


# Before api/fhir/appointments.py's read in MODULES: ``waitlist-<id>`` is no appointment id.
@router.get(f"/{ID_PREFIX}{{entry_id}}", summary="Read a waitlist entry as an Appointment")
async def read_waitlist_entry(
    entry_id: Annotated[str, Path(pattern=f"^{APPOINTMENT_ID}$")],
    requester: RequesterDep,
    services: ServicesDep,
) -> JSONResponse:
    entry = await services.waitlist.read(entry_id.lower(), requester)
    if entry.status not in ACTIVE:
        raise gone(entry)
    return JSONResponse(
        waitlist_resource(entry).dump(),
        media_type=MEDIA_TYPE,
        headers={"ETag": f'W/"{entry.version}"'},
    )


def gone(entry: WaitlistEntry) -> ProblemError:
    """410 (issue ``deleted``): the entry is on the waitlist no more, and why."""
    if entry.status is EntryStatus.FULFILLED:
        what = "was fulfilled"
        if entry.appointment_id:
            what += f": booked as Appointment/{entry.appointment_id}"
    else:
        why = f" ({entry.left_because.value})" if entry.left_because else ""
        what = f"left the waitlist{why}"
    detail = f"waitlist entry {entry.id} is no longer waiting: {what}"
    return ProblemError(410, "waitlist-entry-gone", "Gone", detail)


async def search_waitlist(
    request: Request,
    requester: Requester,
    services: Services,
    found: dict[str, list[str]],
    codes: list[str],
    who: tuple[str | None, str | None],
) -> Bundle:
    """``status=waitlist``: the active entries of ``who`` (patient id, doctor id) the
    caller may see, by (joined_at, id), as a searchset.

    Refused (400) with any other status: appointments and entries are two lists with two
    keyset orders, and one ``_cursor`` cannot page through both. Refused with ``date``
    too: an entry has no start to compare (its window is ``requestedPeriod``)."""
    others = sorted({code for code in codes if code != WAITLIST})
    if others:
        raise invalid(
            f"status: waitlist cannot be searched together with {', '.join(others)}: "
            "search status=waitlist on its own, and the other statuses separately"
        )
    if "date" in found:
        raise invalid("date: a waitlist entry has no start; search status=waitlist without date")
    patient_id, doctor_id = who
    query = query_of(
        ListWaitlist,
        {
            "patient_id": patient_id,
            "doctor_id": doctor_id,
            "status": [s.value for s in ACTIVE],
            "limit": count(found),
            "cursor": cursor(found),
        },
    )
    page = await services.waitlist.list(query, requester)
    total = await services.waitlist.total(query, requester)
    resources = [waitlist_resource(entry).dump() for entry in page.items]
    return searchset(request, "Appointment", resources, total, page.next_cursor)
