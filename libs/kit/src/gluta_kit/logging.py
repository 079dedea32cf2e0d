"""JSON log lines with `service`, `traceId` and `spanId` on every one, stdlib loggers included."""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog

from gluta_kit.tracing import current_ids

_service = "service"


def _add_context(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    event_dict.setdefault("service", _service)
    trace_id, span_id = current_ids()
    if trace_id:
        event_dict.setdefault("traceId", trace_id)
        event_dict.setdefault("spanId", span_id)
    return event_dict


def _drop_color_message(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    event_dict.pop("color_message", None)
    return event_dict


def _dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default or str).decode()


def setup_logging(service: str, level: str = "INFO") -> None:
    """Send every log line of the process to stdout as one JSON object."""
    global _service
    _service = service
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _add_context,
    ]
    structlog.configure(
        # below the level, a line is dropped first, before the timestamp and context are worked out
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _drop_color_message,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    set_level(level)
    for name in ("uvicorn", "uvicorn.error", "faststream", "aiokafka", "nats"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("httpx", "httpcore", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def set_level(level: str) -> None:
    """Change the log level of the whole process (a reloadable setting)."""
    logging.getLogger().setLevel(level.upper())
    logging.getLogger("faststream").setLevel(max(logging.WARNING, logging.getLogger().level))


def get_logger(name: str = "gluta") -> structlog.stdlib.BoundLogger:
    """Return a structured logger."""
    return structlog.get_logger(name)
