"""The CQRS read view (ARCHITECTURE §3): one denormalized row per appointment, made for
schedule queries (its shape is ``projections.fold.ViewRow``), and the checkpoints that say
how far each projector has read. Raw collections, no ODM: the projector writes exactly
``ViewRow.to_document()`` and the queries read it back.

Only the projector (``projections.projection``) writes these collections; the API and
GraphQL read them through ``projections.queries``. The view is eventually consistent: the
write model (``appointments``) is the strongly consistent read."""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel

READ_VIEW = "appointment_read_view"
CHECKPOINTS = "projection_checkpoints"

# doctor_start serves a doctor's schedule and free slots (an index range of one doctor's
# starts); patient_start serves a patient's appointments. Both end on start, so a window
# [from, to) is one contiguous range, already in the order the queries answer.
READ_VIEW_INDEXES = [
    IndexModel([("doctor_id", ASCENDING), ("start", ASCENDING)], name="doctor_start"),
    IndexModel([("patient_id", ASCENDING), ("start", ASCENDING)], name="patient_start"),
]

# One document per doctor and UTC day holding that day's rows in compact form
# (``projections.days``): a week's schedule is 7 or 8 documents, read by ``_id``.
DOCTOR_DAYS = "doctor_days"
