"""The CQRS read view (ARCHITECTURE §3, issue #5): the projector that builds it from the
event store, and the queries that read it.

- ``read_view``: the Beanie documents (the view's rows, the projector's checkpoint)
- ``fold``: events -> a row, pure
- ``projection``: folding stored events into the view, idempotent per event
- ``projector``: the process (follow the change stream, checkpoint, rebuild)
- ``view_store``, ``names``, ``retry``: its MongoDB access, the peers' names, backoff
- ``queries``: ``ScheduleQueries``, called by REST and GraphQL
"""
