"""The real adapters behind the application layer's ports (the Temporal saga gateway, the
readiness checks), and ``wiring``: the one place where the ports meet their adapters
(Beanie's store, the Temporal client, the peer clients, the read view)."""
