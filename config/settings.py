"""The one settings object. Every process reads the environment once, here, and passes
the result down; no other module reads ``os.environ``.

Variables are prefixed ``APPOINTMENTS_`` (``APPOINTMENTS_MONGO_URI``, ...).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APPOINTMENTS_", extra="ignore", frozen=True)

    environment: str = Field("local", description="local | test | production")
    log_level: str = "INFO"
    log_json: bool = Field(False, description="one JSON object per log line (production)")

    # HTTP API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    booking_wait_seconds: float = Field(
        10.0, gt=0, description="how long POST /appointments waits for the saga before 202"
    )

    max_body_bytes: int = Field(64 * 1024, gt=0, description="larger request bodies get 413")

    # Authentication: Bearer JWTs. The local stack signs HS256 with a secret generated on
    # first run in the data folder; production verifies RS256/ES256 against a JWKS URL.
    jwt_issuer: str = "appointment-service-local"
    jwt_audience: str = "appointment-service"
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["HS256"])
    jwt_jwks_url: str | None = None
    jwt_secret_file: Path | None = Field(None, description="default: <data_dir>/jwt-secret")
    jwt_leeway_seconds: int = Field(30, ge=0, le=300)

    # MongoDB (a replica set: transactions need one)
    mongo_uri: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongo_database: str = "appointments"

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "appointments"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    worker_shutdown_grace_seconds: float = Field(
        8.0,
        ge=0,
        description="on SIGTERM, how long running activities may finish before they are "
        "cancelled (and retried elsewhere); keep it below the orchestrator's kill timeout",
    )

    # Kafka
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic: str = "appointment.events"
    kafka_enable_idempotence: bool = Field(
        True, description="on for real Kafka; the local Tansu broker refuses it"
    )
    kafka_acks: str = Field("all", description="all | 1 | 0; real Kafka runs with all")
    kafka_client_id: str = "appointment-service"
    kafka_linger_ms: int = Field(5, ge=0, description="producer batching delay")
    kafka_request_timeout_ms: int = Field(10_000, gt=0)

    # Outbox relay (messaging/relay.py)
    relay_batch_size: int = Field(200, ge=1, le=10_000)
    relay_poll_seconds: float = Field(
        0.5, gt=0, description="fallback poll when no change stream wakes the relay"
    )
    relay_max_backoff_seconds: float = Field(10.0, gt=0, description="while Kafka is down")
    relay_max_attempts: int = Field(
        5, ge=1, description="a row failing this often with a non-transient error is parked"
    )

    # Read view and its projector (projections/)
    schedule_max_days: int = Field(
        62, ge=1, description="the widest from..to window a schedule query may ask for"
    )

    # GraphQL (/graphql)
    graphql_max_depth: int = Field(8, ge=1)
    graphql_max_aliases: int = Field(15, ge=1)

    # Peers
    patient_service_url: str = "http://127.0.0.1:8101"
    doctor_service_url: str = "http://127.0.0.1:8102"
    billing_service_url: str = "http://127.0.0.1:8103"
    peer_timeout_seconds: float = Field(2.0, gt=0)
    # Circuit breakers, one per peer and process (peers/breaker.py)
    breaker_failure_threshold: int = Field(
        5, ge=1, description="consecutive transient failures that open a peer's breaker"
    )
    breaker_reset_seconds: float = Field(
        15.0, gt=0, description="how long a breaker stays open before one trial call"
    )
    billing_outage_policy: Literal["compensate", "retry"] = Field(
        "compensate",
        description="Billing unreachable while booking: undo the booking (compensate), or "
        "keep it SCHEDULED and create the invoice once Billing is back (retry)",
    )
    billing_retry_max_interval_seconds: float = Field(
        60.0, gt=0, description="the longest pause between invoice attempts (retry policy)"
    )
    saga_local_steps: bool = Field(
        True,
        description="run a booking saga's short forward steps as local activities (fast); "
        "false: as regular activities, each one listed in the Web UI while it runs",
    )

    # Booking rules
    clinic_timezone: str = "Europe/Berlin"
    min_duration_minutes: int = Field(10, ge=5)
    max_duration_minutes: int = Field(120, ge=5)
    slot_hold_minutes: int = Field(
        5, ge=1, description="how long a slot hold lives at the Doctor Service"
    )
    appointment_price_cents: int = Field(6000, ge=0)
    currency: str = "EUR"
    cancellation_free_hours: int = Field(24, ge=0, description="free until N hours before")
    cancellation_fee_cents: int = Field(2500, ge=0, description="the late cancellation fee")

    # Metrics (Prometheus): the API serves /metrics on its own port; the worker, which
    # has no HTTP server, serves them here.
    worker_metrics_port: int = Field(9464, ge=0, le=65535, description="0 = off")
    worker_metrics_host: str = Field(
        "127.0.0.1", description="0.0.0.0 in a container, so Prometheus can scrape the worker"
    )

    # Local stack
    data_dir: Path = Path(".local")

    @property
    def jwt_secret_path(self) -> Path:
        return self.jwt_secret_file or self.data_dir / "jwt-secret"

    @cached_property
    def clinic_zone(self) -> ZoneInfo:
        return ZoneInfo(self.clinic_timezone)


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; ``overrides`` win (tests and the local stack use them)."""
    return Settings(**overrides)  # type: ignore[arg-type]
