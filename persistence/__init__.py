from persistence.database import connect
from persistence.store import AppointmentStore
from persistence.waitlist_store import WaitlistStore

__all__ = ["AppointmentStore", "WaitlistStore", "connect"]
