"""Logging through loguru for every process: one sink on stderr, JSON in production, and
the standard library's loggers (uvicorn, temporalio, pymongo) routed into it."""

from __future__ import annotations

import logging
import sys

from loguru import logger

from config.settings import Settings

_HUMAN = (
    "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "<cyan>{extra[process]}</cyan> {message} <dim>{extra}</dim>"
)


class _InterceptHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=6, exception=record.exc_info).log(level, record.getMessage())


def configure_logging(settings: Settings, process: str) -> None:
    logger.remove()
    logger.configure(extra={"process": process})
    logger.add(
        sys.stderr,
        level=settings.log_level,
        serialize=settings.log_json,
        format="{message}" if settings.log_json else _HUMAN,
        backtrace=False,
        diagnose=False,  # never print local variables (tokens, patient data) in tracebacks
    )
    logging.basicConfig(handlers=[_InterceptHandler()], level=logging.INFO, force=True)
    for noisy in ("uvicorn.access", "pymongo", "aiokafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
