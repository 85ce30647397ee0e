"""The one settings object. Every process reads the environment once, here, and passes
the result down; no other module reads ``os.environ``.

Variables are prefixed ``APPOINTMENTS_`` (``APPOINTMENTS_MONGO_URI``, ...).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.transport import OptionalPath, OptionalSaslMechanism, OptionalSecret, OptionalStr
from domain.journey import JourneyRules, QuietHours
from domain.waitlist import OfferRules

# The issuers of the local stack's and the compose demo's own HS256 tokens: a production
# token comes from the identity provider and never carries them.
LOCAL_JWT_ISSUERS = frozenset({"appointment-service-local", "appointment-service-compose"})


class ProductionSettingsError(Exception):
    """Production settings that keep a local default. Raised while ``Settings()`` is built,
    so no process starts with them; not a ValueError, so pydantic does not wrap it into a
    ValidationError that would print every setting's value (the MongoDB URI's password)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APPOINTMENTS_", extra="ignore", frozen=True)

    environment: Literal["local", "test", "demo", "production"] = Field(
        "local",
        description="local | test | demo (the compose stack's HS256 tokens) | production "
        "(refuses local authentication defaults: Settings.check_production)",
    )
    log_level: str = "INFO"
    log_json: bool = Field(False, description="one JSON object per log line (production)")

    # HTTP API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    booking_wait_seconds: float = Field(
        10.0, gt=0, description="how long POST /appointments waits for the saga before 202"
    )

    max_body_bytes: int = Field(64 * 1024, gt=0, description="larger request bodies get 413")
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="the API's address as patients reach it: action links (/a/<token>) "
        "in reminders start with it",
    )

    # Patients' one-click action links (application/action_links.py): HMAC-signed with
    # this secret, shared by the API (verifies) and the worker (writes reminders).
    action_link_secret: OptionalSecret = Field(
        None, description="or action_link_secret_file; neither: <data_dir>/action-link-secret"
    )
    action_link_secret_file: OptionalPath = None

    # Authentication: Bearer JWTs. The local stack signs HS256 with a secret generated on
    # first run in the data folder; production verifies RS256/ES256 against a JWKS URL.
    jwt_issuer: str = "appointment-service-local"
    jwt_audience: str = "appointment-service"
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["HS256"])
    jwt_jwks_url: str | None = None
    jwt_secret_file: Path | None = Field(None, description="default: <data_dir>/jwt-secret")
    jwt_leeway_seconds: int = Field(30, ge=0, le=300)

    # JWKS key cache (api/security/tokens.py Jwks): fetched with a short timeout, kept for
    # a TTL, refreshed early for an unknown `kid` at most once per interval, and the last
    # good key set serves while the identity provider is down.
    jwt_jwks_timeout_seconds: float = Field(
        3.0, gt=0, le=30, description="the whole JWKS fetch, connect to last byte"
    )
    jwt_jwks_cache_seconds: float = Field(
        300.0, gt=0, description="how long a fetched key set serves before it is refreshed"
    )
    jwt_jwks_min_refresh_seconds: float = Field(
        10.0,
        ge=1,
        description="the least time between two fetches (unknown kid, outage); at least 1: "
        "made-up kids must not turn into a fetch each",
    )

    # MongoDB (a replica set: transactions need one)
    mongo_uri: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongo_database: str = "appointments"

    # MongoDB transport security (persistence/database.py client_options). Default: the
    # URI alone decides, as it may (tls=true, credentials, authSource, mongodb+srv://).
    # These add what a URI cannot carry from a mounted Secret: a private CA, a client
    # certificate, a password file.
    mongo_tls: bool = Field(
        False, description="force TLS on (as tls=true in the URI); implied by the files below"
    )
    mongo_tls_ca_file: OptionalPath = Field(
        None, description="PEM: the CA of the server's certificate (default: the system's)"
    )
    mongo_tls_certificate_key_file: OptionalPath = Field(
        None, description="PEM: the client certificate and its private key (X.509, mTLS)"
    )
    mongo_username: OptionalStr = Field(None, description="instead of the URI's user")
    mongo_password: OptionalSecret = Field(None, description="or mongo_password_file")
    mongo_password_file: OptionalPath = None

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

    # Temporal transport security (workflows/client.py). Default: plaintext, as the local
    # dev server speaks. Temporal Cloud: an API key, or an mTLS client certificate and key.
    temporal_tls: bool = Field(
        False, description="TLS with the system's CAs; implied by any setting below"
    )
    temporal_tls_ca_file: OptionalPath = Field(
        None, description="PEM: the CA of the server's certificate (default: the system's)"
    )
    temporal_tls_cert_file: OptionalPath = Field(
        None, description="PEM: the mTLS client certificate (with temporal_tls_key_file)"
    )
    temporal_tls_key_file: OptionalPath = None
    temporal_tls_server_name: OptionalStr = Field(
        None, description="SNI and the name the server's certificate is checked against"
    )
    temporal_api_key: OptionalSecret = Field(
        None, description="or temporal_api_key_file; implies TLS"
    )
    temporal_api_key_file: OptionalPath = None

    # Payload encryption (workflows/codec.py). Every Temporal payload (workflow and activity
    # inputs and results, memos, queries, updates, failure messages) is encrypted with
    # AES-256-GCM before it leaves the API or the worker, so Temporal's store and Web UI
    # hold no health data in the clear; the API's /codec endpoint decrypts for the Web UI,
    # for admins only. Keys have ids: the current key encrypts, every listed key decrypts
    # (rotation: list a new key last, keep the old ones while histories need them). The
    # API and the worker must share settings and keys; the local stack turns it on with a
    # key generated on first run.
    payload_encryption: bool = Field(
        False, description="encrypt Temporal payloads; off: payloads go as they are"
    )
    payload_keys: OptionalSecret = Field(
        None,
        description="`<key id>=<base64 of 32 random bytes>`, several separated by commas or "
        "line breaks; or payload_keys_file; neither: the file <data_dir>/payload-keys",
    )
    payload_keys_file: OptionalPath = Field(
        None, description="a file of such keys, one a line (`#` starts a comment)"
    )
    payload_key_id: OptionalStr = Field(
        None, description="the id of the key that encrypts; default: the last one listed"
    )
    codec_allowed_origins: list[str] = Field(
        default_factory=list,
        description="origins whose pages may call /codec (CORS), e.g. the Temporal Web UI's; "
        "empty: the origin of temporal_ui_url",
    )

    @property
    def payload_keys_path(self) -> Path:
        """The key file read when no keys are given otherwise (the local stack writes it)."""
        return self.payload_keys_file or self.data_dir / "payload-keys"

    @property
    def codec_origins(self) -> list[str]:
        from urllib.parse import urlsplit  # only this property needs it

        if self.codec_allowed_origins:
            return [origin.rstrip("/") for origin in self.codec_allowed_origins]
        ui = urlsplit(self.temporal_ui_url)
        return [f"{ui.scheme}://{ui.netloc}"]

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

    # Kafka transport security (messaging/kafka.py security_options, for the producer and
    # the notification consumer). Default: PLAINTEXT, as the local broker speaks. Managed
    # Kafka: SASL_SSL with a SASL mechanism and credentials; SSL alone for mTLS.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: OptionalSaslMechanism = Field(
        None, description="PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512; needed by the SASL protocols"
    )
    kafka_sasl_username: OptionalStr = None
    kafka_sasl_password: OptionalSecret = Field(None, description="or kafka_sasl_password_file")
    kafka_sasl_password_file: OptionalPath = None
    kafka_ssl_ca_file: OptionalPath = Field(
        None, description="PEM: the CA of the brokers' certificates (default: the system's)"
    )
    kafka_ssl_cert_file: OptionalPath = Field(
        None, description="PEM: a client certificate (mTLS), with its key unless in the next"
    )
    kafka_ssl_key_file: OptionalPath = None

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

    # Quotas: what one caller may cost (application/quotas.py, api/graphql/limits.py;
    # README "Limits"). The rates are per API process and per token subject.
    saga_requests_per_minute: float = Field(
        30.0, gt=0, description="bookings, cancellations, reschedules per caller, both doors"
    )
    saga_request_burst: int = Field(
        20, ge=1, description="how many of them at once before the rate applies (then 429)"
    )
    pending_lookups_per_minute: float = Field(
        60.0, gt=0, description="GETs of an id not stored yet that ask Temporal, per caller"
    )
    pending_lookup_burst: int = Field(20, ge=1, description="past it such a GET is a plain 404")
    patient_max_active_appointments: int = Field(
        5, ge=1, description="active upcoming appointments per patient; staff may book over it"
    )
    graphql_max_peer_calls: int = Field(
        7, ge=1, description="freeSlots fields (a Doctor Service call each) per GraphQL operation"
    )

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
    workflow_sandbox: bool = Field(
        False,
        description="run the worker's workflows in Temporal's sandbox, which re-imports a "
        "workflow's module for every run and guards every call it makes; the workflow tests "
        "always run sandboxed, so a non-deterministic call fails there (off: 40% less worker "
        "CPU per booking)",
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

    # The appointment's journey after booking (workflows/journey.py, domain/journey.py):
    # reminders before the start, never inside quiet hours, and the no-show check after it.
    reminder_offsets_minutes: list[int] = Field(
        default_factory=lambda: [1440, 120],
        description="reminders, in minutes before the start (JSON list, e.g. [1440, 120]); "
        "[] sends none",
    )
    quiet_hours: str = Field(
        "21:00-08:00",
        description="HH:MM-HH:MM in the clinic's time zone, may cross midnight: a reminder due "
        "inside moves to the minute before they begin; off (or empty): no quiet hours",
    )
    no_show_grace_minutes: int = Field(
        15,
        ge=0,
        le=24 * 60,
        description="after the start, when an appointment nobody checked in becomes NO_SHOW",
    )
    no_show_fee_cents: int = Field(
        2500, ge=0, description="invoiced for an automatic no-show; captured at booking"
    )

    # The waitlist (domain/waitlist.py, workflows/waitlist_offers.py): a freed slot is
    # offered to one entry at a time, each offer open this long, until the cutoff before
    # the start. Offers go out outside ``quiet_hours`` only.
    waitlist_offer_minutes: int = Field(
        15, ge=1, le=24 * 60, description="how long a waitlist offer stays open"
    )
    waitlist_cutoff_minutes: int = Field(
        60,
        ge=0,
        le=7 * 24 * 60,
        description="a freed slot is offered to the waitlist until this long before its start",
    )
    waitlist_max_entries_per_patient: int = Field(
        3, ge=1, le=100, description="a patient's active waitlist entries at most"
    )
    waitlist_topic: str = Field(
        "waitlist.events", description="the Kafka topic of the waitlist's events"
    )

    # Metrics (Prometheus): the API serves /metrics on its own port; the worker, which
    # has no HTTP server, serves them here.
    worker_metrics_port: int = Field(9464, ge=0, le=65535, description="0 = off")
    worker_metrics_host: str = Field(
        "127.0.0.1", description="0.0.0.0 in a container, so Prometheus can scrape the worker"
    )

    # Liveness of the relay and the projector (telemetry/heartbeat.py): each loop touches
    # a file here; `relay alive` / `projector alive` fail once it is older than the limit.
    heartbeat_dir: Path | None = Field(
        None, description="default: <data_dir>/heartbeat; /tmp/heartbeat in containers"
    )
    heartbeat_max_age_seconds: float = Field(
        120.0, gt=0, description="a loop silent this long is declared dead by `... alive`"
    )

    # Local stack
    data_dir: Path = Path(".local")

    @property
    def jwt_secret_path(self) -> Path:
        return self.jwt_secret_file or self.data_dir / "jwt-secret"

    @property
    def action_link_secret_path(self) -> Path:
        """The secret's file when no value is given (the local stack writes it)."""
        return self.action_link_secret_file or self.data_dir / "action-link-secret"

    @property
    def heartbeat_path(self) -> Path:
        return self.heartbeat_dir or self.data_dir / "heartbeat"

    @cached_property
    def clinic_zone(self) -> ZoneInfo:
        return ZoneInfo(self.clinic_timezone)

    @property
    def journey_rules(self) -> JourneyRules:
        """What a journey started now follows (captured in its input)."""
        return JourneyRules(
            reminder_offsets_minutes=tuple(self.reminder_offsets_minutes),
            quiet_hours=QuietHours.parse(self.quiet_hours),
            no_show_grace_minutes=self.no_show_grace_minutes,
            timezone=self.clinic_timezone,
        )

    @property
    def offer_rules(self) -> OfferRules:
        """What an offer round started now follows (captured in its input)."""
        return OfferRules(
            offer_minutes=self.waitlist_offer_minutes,
            cutoff_minutes=self.waitlist_cutoff_minutes,
            quiet_hours=QuietHours.parse(self.quiet_hours),
            timezone=self.clinic_timezone,
        )

    @field_validator("reminder_offsets_minutes")
    @classmethod
    def _offsets_before_the_start(cls, offsets: list[int]) -> list[int]:
        if any(not 0 < offset <= 366 * 24 * 60 for offset in offsets):
            raise ValueError("each reminder offset is a number of minutes, 1 to 527040")
        return sorted(set(offsets), reverse=True)

    @field_validator("public_base_url")
    @classmethod
    def _an_absolute_url(cls, url: str) -> str:
        """Links patients open from a message: a relative or schemeless address would make
        every reminder break the event contract (its links are absolute URLs) and park it."""
        if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1]) == 0:
            raise ValueError(
                "must be an absolute http:// or https:// URL, e.g. https://clinic.example"
            )
        return url.rstrip("/")

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, text: str) -> str:
        QuietHours.parse(text)  # raises ValueError naming the format
        return text.strip()

    # --- production: no local authentication defaults (README "Authentication in
    # production"). MongoDB, Temporal, Kafka and the peers may stay on 127.0.0.1 (a sidecar
    # or a local proxy is a production layout, and a wrong address fails at connect time);
    # what is checked is what would let someone in: tokens the service could forge itself.

    def production_problems(self) -> list[str]:
        """Why these settings may not run in production, one line per variable to set;
        empty outside production."""
        if self.environment != "production":
            return []
        problems: list[str] = []
        url = self.jwt_jwks_url or ""
        if not url:
            problems.append(
                "APPOINTMENTS_JWT_JWKS_URL is not set: production verifies tokens against the "
                "identity provider's public keys; set its JWKS URL (https://...)"
            )
        elif not url.startswith("https://"):
            problems.append(
                "APPOINTMENTS_JWT_JWKS_URL must be an https:// URL: keys fetched over plain "
                "HTTP can be swapped on the way"
            )
        shared = sorted(alg for alg in self.jwt_algorithms if alg.upper().startswith("HS"))
        if shared:
            problems.append(
                f"APPOINTMENTS_JWT_ALGORITHMS allows {', '.join(shared)}: shared-secret "
                'algorithms are refused in production; set e.g. ["RS256"] or ["ES256"], '
                "as the identity provider signs"
            )
        if self.jwt_secret_file is not None:
            problems.append(
                "APPOINTMENTS_JWT_SECRET_FILE is set: the local signing secret is refused in "
                "production; unset it"
            )
        if self.action_link_secret is None and self.action_link_secret_file is None:
            problems.append(
                "APPOINTMENTS_ACTION_LINK_SECRET (or _FILE) is not set: patients' confirm and "
                "cancel links are signed with it; set at least 32 random bytes, the same for "
                "the API and the worker"
            )
        if self.jwt_issuer in LOCAL_JWT_ISSUERS:
            problems.append(
                f"APPOINTMENTS_JWT_ISSUER is the local stack's {self.jwt_issuer!r}: set the "
                "identity provider's issuer (the iss claim of its tokens)"
            )
        return problems

    def check_production(self) -> None:
        """Raise ProductionSettingsError, naming every variable to set, when production
        settings keep a local default. Runs whenever Settings are built (below), so every
        process's entry point refuses to start with them."""
        problems = self.production_problems()
        if problems:
            lines = "\n".join(f"  - {problem}" for problem in problems)
            raise ProductionSettingsError(
                f"refusing to start: APPOINTMENTS_ENVIRONMENT=production, but\n{lines}"
            )

    @model_validator(mode="after")
    def _no_local_defaults_in_production(self) -> Settings:
        self.check_production()
        return self


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; ``overrides`` win (tests and the local stack use them)."""
    return Settings(**overrides)  # type: ignore[arg-type]
