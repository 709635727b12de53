"""Typed configuration read once at start from prefixed environment variables.

A service declares a frozen dataclass; `load_config(ServiceConfig, prefix="LEDGER")` fills each field
from `LEDGER_<FIELD>`. A field without a default is required. A missing or malformed value raises
`ConfigError` naming the variable, so a bad deployment fails at start, not on the first request.
"""

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(Exception):
    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse(variable: str, raw: str, kind: Any) -> Any:
    if kind is str:
        if not raw.strip():
            raise ConfigError(variable, "must not be empty")
        return raw
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(variable, f"expected a boolean (true/false), got {raw!r}")
    if kind is int:
        try:
            return int(raw.strip())
        except ValueError:
            raise ConfigError(variable, f"expected an integer, got {raw!r}") from None
    if typing.get_origin(kind) is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    raise TypeError(f"unsupported configuration type {kind!r} for {variable}")


def _unwrap_optional(kind: Any) -> tuple[Any, bool]:
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        arguments = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(arguments) == 1:
            return arguments[0], True
    return kind, False


def load_config(cls: type[T], *, prefix: str, environ: Mapping[str, str] | None = None) -> T:
    environ = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        variable = f"{prefix}_{field.name.upper()}"
        kind, optional = _unwrap_optional(hints[field.name])
        raw = environ.get(variable)
        if raw is None or (optional and raw == ""):
            has_default = (
                field.default is not dataclasses.MISSING
                or field.default_factory is not dataclasses.MISSING
            )
            if not has_default and not optional:
                raise ConfigError(variable, "is required but not set")
            if optional and not has_default:
                values[field.name] = None
            continue
        values[field.name] = _parse(variable, raw, kind)
    config = cls(**values)
    validate = getattr(config, "validate", None)
    if validate is not None:
        validate(prefix)
    return config


def require(condition: bool, *, variable: str, message: str) -> None:
    """For a config's `validate(prefix)`: range checks that name the variable."""
    if not condition:
        raise ConfigError(variable, message)


# What a process's `<PREFIX>_EVENT_LOOP` may name: uvloop, or the standard library's loop.
EVENT_LOOPS = ("uvloop", "asyncio")


def require_event_loop(name: str, *, variable: str) -> None:
    require(
        name in EVENT_LOOPS, variable=variable, message=f"must be one of {', '.join(EVENT_LOOPS)}"
    )
