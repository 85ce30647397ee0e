"""Patients' one-click action links: ``<public base URL>/a/<token>``, one to confirm and
one to cancel, sent in every reminder.

A token is signed (HMAC-SHA256 with the deployment's action-link secret) and carries the
appointment id, the patient id, what it may do (confirm or cancel) and the appointment's
start when it was made. So it grants exactly one action on one appointment, to the
patient of that appointment, until the start: it expires then. A reschedule moves the
start, which voids every link made before it: the page compares the token's start with
the stored one (``ActionGrant.is_for``).

Tokens are short enough for an SMS (about 80 characters for a typical patient id): the
binary payload and a signature truncated to 128 bits, base64url without padding, instead
of a JWT's JSON header and claims.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from config.transport import secret as configured_secret

if TYPE_CHECKING:
    from config import Settings
    from domain.model import Appointment


class ActionPurpose(StrEnum):
    CONFIRM = "confirm"
    CANCEL = "cancel"
    # A waitlist offer's links (domain/waitlist.py): the token's id is the offer's, its
    # instant the offer's expiry, so the link expires with the offer.
    ACCEPT_OFFER = "accept_offer"
    DECLINE_OFFER = "decline_offer"


OFFER_PURPOSES = frozenset({ActionPurpose.ACCEPT_OFFER, ActionPurpose.DECLINE_OFFER})


# The only version of the format, and the context every signature covers (so a MAC made
# with the same secret for anything else can never pass as an action link).
_VERSION = 1
_CONTEXT = b"appointment-action-link"
_PURPOSE_CODES = {
    ActionPurpose.CONFIRM: 1,
    ActionPurpose.CANCEL: 2,
    ActionPurpose.ACCEPT_OFFER: 3,
    ActionPurpose.DECLINE_OFFER: 4,
}
_PURPOSES = {code: purpose for purpose, code in _PURPOSE_CODES.items()}
# version (1 byte), purpose (1), start in epoch seconds (8, signed), appointment id (16)
_HEAD = struct.Struct(">BBq16s")
_MAC_BYTES = 16
_MAX_PATIENT_ID = 64  # application.identifiers.EntityId's max_length
_MAX_TOKEN_CHARS = 200  # anything longer is no token of ours; not even decoded
MIN_SECRET_BYTES = 32


class ActionLinkRefused(Exception):
    """A token that grants nothing. ``reason`` says why, for the page to explain."""

    reason = "invalid"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ForgedActionLink(ActionLinkRefused):
    """Malformed, cut short, or not signed with this deployment's secret."""

    reason = "forged"


class ExpiredActionLink(ActionLinkRefused):
    """A genuine token whose appointment has started (or was to start by then)."""

    reason = "expired"

    def __init__(self, start: datetime, purpose: ActionPurpose | None = None) -> None:
        super().__init__(f"the link expired at the appointment's start, {start.isoformat()}")
        self.start = start
        self.purpose = purpose  # an offer's link expires with the offer, not at a start


class ActionLinkSecretMissing(Exception):
    """No secret configured and no secret file at the default path."""


@dataclass(frozen=True, slots=True)
class ActionGrant:
    """What a verified token allows: ``purpose`` on ``appointment_id``, by the patient
    ``patient_id``, as long as the appointment still starts at ``start``."""

    appointment_id: str
    patient_id: str
    purpose: ActionPurpose
    start: datetime  # UTC, whole seconds

    def is_for(self, appointment: Appointment) -> bool:
        """Whether the stored ``appointment`` is still the one this token was made for:
        the same appointment, patient and start (a reschedule voids the link)."""
        return (
            appointment.id == self.appointment_id
            and appointment.patient_id == self.patient_id
            and _seconds(appointment.start) == _seconds(self.start)
        )

    @property
    def idempotency_key(self) -> str:
        """The same for every use of this link (a double click is one change), and
        another for a link of another start or purpose."""
        digest = hashlib.sha256(
            f"{self.appointment_id}/{self.purpose}/{_seconds(self.start)}".encode()
        ).hexdigest()
        return f"action-link-{digest[:32]}"


def _seconds(instant: datetime) -> int:
    return int(instant.astimezone(UTC).timestamp())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ActionLinks:
    def __init__(self, secret: bytes, base_url: str) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"an action-link secret has at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self._base = base_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> ActionLinks:
        """With the secret of ``action_link_secret`` (or its file), else the file at
        ``action_link_secret_path`` (the local stack makes it on first run)."""
        value = configured_secret(settings, "action_link_secret")
        if value is None:
            path = settings.action_link_secret_path
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError:
                raise ActionLinkSecretMissing(
                    "no action-link secret: set APPOINTMENTS_ACTION_LINK_SECRET or "
                    f"APPOINTMENTS_ACTION_LINK_SECRET_FILE (nothing at {path})"
                ) from None
        return cls(value.encode("utf-8"), settings.public_base_url)

    def token(self, appointment: Appointment, purpose: ActionPurpose) -> str:
        """A token for ``purpose`` on ``appointment`` as it is now (its current start)."""
        return self._token(appointment.id, appointment.patient_id, appointment.start, purpose)

    def offer_links(self, offer_id: str, patient_id: str, expires_at: datetime) -> dict[str, str]:
        """A waitlist offer's links: {"accept": <url>, "decline": <url>}, each granting
        that answer to the offer's patient until the offer expires. ``offer_id`` is a UUID;
        the grant's ``appointment_id`` carries it."""
        return {
            name: f"{self._base}/a/{self._token(offer_id, patient_id, expires_at, purpose)}"
            for name, purpose in (
                ("accept", ActionPurpose.ACCEPT_OFFER),
                ("decline", ActionPurpose.DECLINE_OFFER),
            )
        }

    def _token(self, subject: str, patient_id: str, until: datetime, purpose: ActionPurpose) -> str:
        patient = patient_id.encode("utf-8")
        if not 0 < len(patient) <= _MAX_PATIENT_ID:
            raise ValueError("a patient id has 1 to 64 characters")
        head = _HEAD.pack(
            _VERSION,
            _PURPOSE_CODES[ActionPurpose(purpose)],
            _seconds(until),
            uuid.UUID(subject).bytes,
        )
        payload = head + patient
        return _b64(payload + self._mac(payload))

    def links(self, appointment: Appointment) -> dict[str, str]:
        """The reminder's links: {"confirm": <url>, "cancel": <url>}."""
        return {
            purpose.value: f"{self._base}/a/{self.token(appointment, purpose)}"
            for purpose in (ActionPurpose.CONFIRM, ActionPurpose.CANCEL)
        }

    def verify(self, token: str, now: datetime) -> ActionGrant:
        """What ``token`` grants at ``now``. Raises ForgedActionLink for anything this
        deployment did not sign, ExpiredActionLink once ``now`` reaches the start."""
        grant = self._opened(token)
        if now >= grant.start:
            raise ExpiredActionLink(grant.start, grant.purpose)
        return grant

    def _opened(self, token: str) -> ActionGrant:
        if len(token) > _MAX_TOKEN_CHARS or not token.isascii():
            raise ForgedActionLink("not an action link")
        try:
            raw = _unb64(token)
        except (binascii.Error, ValueError):
            raise ForgedActionLink("not an action link") from None
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if len(payload) <= _HEAD.size or not hmac.compare_digest(mac, self._mac(payload)):
            raise ForgedActionLink("the link's signature does not match")
        # Signed by us: the fields are what token() wrote.
        version, code, start, appointment = _HEAD.unpack_from(payload)
        if version != _VERSION or code not in _PURPOSES:
            raise ForgedActionLink("an unknown kind of action link")
        return ActionGrant(
            appointment_id=str(uuid.UUID(bytes=appointment)),
            patient_id=payload[_HEAD.size :].decode("utf-8"),
            purpose=_PURPOSES[code],
            start=datetime.fromtimestamp(start, UTC),
        )

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, _CONTEXT + payload, hashlib.sha256).digest()[:_MAC_BYTES]
