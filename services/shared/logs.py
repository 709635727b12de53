"""JSON log lines on stderr, each carrying the request id of the call being served."""

import contextvars
import json
import logging
import sys
import time
from typing import Any

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        # The timestamp's whole seconds, formatted once a second.
        self._second = -1
        self._second_text = ""

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        line: dict[str, Any] = {
            "ts": f"{self._second_text}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "")
        if request_id:
            line["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def stamp_request_ids() -> None:
    """Give every log record the request id of the call it was made in, when it is made, so a
    handler formatting it later (a queue, a test's capture) still has it."""
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "stamps_request_ids", False):
        return

    def make_stamped_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.request_id = request_id_var.get()
        return record

    make_stamped_record.stamps_request_ids = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_stamped_record)


def configure_logging(service: str, *, level: str = "INFO") -> None:
    # The lines carry none of the caller's file, thread or process, which the logging module
    # otherwise looks up for every record (the logging HOWTO's "Optimization"): a third of the
    # cost of the line each gRPC call logs.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    stamp_request_ids()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def log_fields(**fields: Any) -> dict[str, Any]:
    """`logger.info("...", extra=log_fields(member_id=...))` puts the fields in the JSON line."""
    return {"fields": fields}
