"""``appointment-service``: one command for every process of the service.

appointment-service run          the whole service on the local stack (make run)
appointment-service api          the HTTP API
appointment-service worker       the Temporal worker
appointment-service relay        the outbox relay (MongoDB outbox -> Kafka)
appointment-service relay status          its backlog and the oldest unpublished event's age
appointment-service relay republish       parked events back into the queue (--dry-run)
appointment-service relay alive           liveness: the relay loop's heartbeat is recent
appointment-service projector    the projector that keeps the schedule read view current
appointment-service projector rebuild     drop the read view and rebuild it from the events
appointment-service projector alive       liveness: the projector loop's heartbeat is recent
appointment-service journey backfill      start the journeys of active appointments that have none
appointment-service notifications         the local stand-in of the Notification Service
appointment-service simulators   the Patient, Doctor and Billing simulators
appointment-service token        a Bearer token for the local stack
"""

from __future__ import annotations

import argparse
import math
import signal
import sys


def _api() -> None:
    import uvicorn

    from adapters.wiring import create_api
    from config import load_settings
    from config.logging import configure_logging

    settings = load_settings()
    configure_logging(settings, "api")
    # On SIGTERM uvicorn stops accepting, lets the requests in flight finish (a booking
    # waits up to its budget), runs the lifespan's shutdown, then re-raises the signal
    # with the handler it found installed. With this no-op one, the process then ends
    # with exit code 0, as after any clean stop, rather than being killed by the signal.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    uvicorn.run(
        create_api(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,  # our middleware logs every request, with its request id
        timeout_graceful_shutdown=math.ceil(settings.booking_wait_seconds) + 5,
    )


def _worker() -> None:
    import worker

    worker.main()


def _simulators(argv: list[str]) -> None:
    from simulators.runner import main

    main(argv)


def _relay(argv: list[str]) -> None:
    from messaging.relay import main

    main(argv)


def _projector(argv: list[str]) -> None:
    from projections.projector import main

    main(argv)


def _notifications(argv: list[str]) -> None:
    from simulators.notifications import main

    main(argv)


def _journey(argv: list[str]) -> None:
    from workflows.backfill import main

    main(argv)


def _run(argv: list[str]) -> None:
    from localstack.run import main

    main(argv)


def _token(argv: list[str]) -> None:
    from api.security.tokens import LocalTokensRefused, issue_local_token
    from application.permissions import Role
    from config import load_settings

    parser = argparse.ArgumentParser(prog="appointment-service token")
    parser.add_argument("--role", choices=[r.value for r in Role], help="omit with patient/ scopes")
    parser.add_argument("--sub", required=True, help="patient id, doctor id or user id")
    parser.add_argument("--ttl", type=int, default=60, help="minutes (default 60)")
    parser.add_argument(
        "--scope", help="SMART on FHIR scopes, space-separated: 'patient/Appointment.rs openid'"
    )
    parser.add_argument("--patient", help="the SMART launch context's patient id")
    args = parser.parse_args(argv)
    if args.role is None and "patient/" not in (args.scope or ""):
        parser.error("--role is required unless --scope holds patient/ scopes")
    role = Role(args.role) if args.role else None
    try:
        token = issue_local_token(
            load_settings(), role, args.sub, args.ttl, scope=args.scope, patient=args.patient
        )
    except LocalTokensRefused as refused:
        raise SystemExit(f"appointment-service token: {refused}") from None
    print(token)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="appointment-service",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command",
        choices=[
            "run", "api", "worker", "relay", "projector", "journey", "notifications",
            "simulators", "token",
        ],
    )  # fmt: skip
    given = sys.argv[1:] if argv is None else argv
    # Only the first word is ours; everything after it (``--help`` too) is the command's.
    args = parser.parse_args(given[:1])
    from config.settings import ProductionSettingsError

    try:
        _dispatch(args.command, given[1:])
    except ProductionSettingsError as refused:
        # The settings name every variable to set; no traceback, no setting's value.
        raise SystemExit(f"appointment-service {args.command}: {refused}") from None


def _dispatch(command: str, rest: list[str]) -> None:
    if command == "api":
        _api()
    elif command == "worker":
        _worker()
    elif command == "relay":
        _relay(rest)
    elif command == "projector":
        _projector(rest)
    elif command == "journey":
        _journey(rest)
    elif command == "notifications":
        _notifications(rest)
    elif command == "simulators":
        _simulators(rest)
    elif command == "token":
        _token(rest)
    else:
        _run(rest)


if __name__ == "__main__":
    main()
