from persistence.database import connect
from persistence.store import AppointmentStore

__all__ = ["AppointmentStore", "connect"]
