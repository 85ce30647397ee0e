"""Logging through loguru for every process: one sink on stderr, JSON in production, and
the standard library's loggers (uvicorn, temporalio, pymongo) routed into it."""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from loguru import Record

from config.settings import Settings

_HUMAN = (
    "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "<cyan>{extra[process]: <10}</cyan> {message}<dim>{extra[_fields]}</dim>\n{exception}"
)


def _human(record: Record) -> str:
    """Context fields (request id, workflow id, ...) as key=value after the message; the
    values go through the record, never into the template, so braces in them are safe."""
    fields = {k: v for k, v in record["extra"].items() if k not in {"process", "_fields"}}
    record["extra"]["_fields"] = "".join(f" {k}={v}" for k, v in fields.items())
    return _HUMAN


class _InterceptHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=6, exception=record.exc_info).log(level, record.getMessage())


def _json(record: Record) -> str:
    """One JSON object per line: time, level, process, message and the context fields."""
    line: dict[str, Any] = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "message": record["message"],
    }
    line.update({k: v for k, v in record["extra"].items() if k != "_line"})
    if record["exception"] is not None:
        error = record["exception"]
        line["error"] = f"{error.type.__name__ if error.type else ''}: {error.value}"
    record["extra"]["_line"] = json.dumps(line, default=str)
    return "{extra[_line]}\n"


def configure_logging(settings: Settings, process: str) -> None:
    logger.remove()
    logger.configure(extra={"process": process})
    logger.add(
        sys.stderr,
        level=settings.log_level,
        format=_json if settings.log_json else _human,
        backtrace=False,
        diagnose=False,  # never print local variables (tokens, patient data) in tracebacks
    )
    logging.basicConfig(handlers=[_InterceptHandler()], level=logging.INFO, force=True)
    for noisy in ("uvicorn.access", "pymongo", "aiokafka", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
