"""A member's profile and consents (pure rules, no I/O)."""

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from loyalty.common.v1 import common_pb2
from services.shared.errors import InvalidArgument

NAME_LENGTH_MAX = 100
STORE_ID_LENGTH_MAX = 64
PREFERENCES_COUNT_MAX = 50
PREFERENCE_KEY_LENGTH_MAX = 64
PREFERENCE_VALUE_LENGTH_MAX = 500
BIRTH_YEAR_MIN = 1900

PROFILE_FIELDS = (
    "given_name",
    "family_name",
    "birthday",
    "locale",
    "home_store_id",
    "preferences",
)
CONSENT_CHANNELS = frozenset(
    {
        common_pb2.CONSENT_CHANNEL_EMAIL,
        common_pb2.CONSENT_CHANNEL_SMS,
        common_pb2.CONSENT_CHANNEL_PUSH,
    }
)
CHANNELS = frozenset(common_pb2.Channel.values()) - {common_pb2.CHANNEL_UNSPECIFIED}

# Each matched whole (fullmatch), as `$` matches before a final newline too.
# BCP 47, as much of it as members' locales use: "nl", "nl-NL", "zh-Hant-TW", "es-419".
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$")
_PREFERENCE_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_STORE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, kw_only=True)
class Profile:
    given_name: str = ""
    family_name: str = ""
    birthday: dt.date | None = None
    locale: str = ""
    home_store_id: str = ""
    preferences: Mapping[str, str] = field(default_factory=dict)


def birthday(year: int, month: int, day: int, field_name: str) -> dt.date | None:
    """The date of a LocalDate; None when all of it is zero (unknown)."""
    if (year, month, day) == (0, 0, 0):
        return None
    try:
        date = dt.date(year, month, day)
    except ValueError:
        raise InvalidArgument(field_name, "must be a valid date") from None
    if date.year < BIRTH_YEAR_MIN or date > dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1):
        raise InvalidArgument(field_name, f"must be between {BIRTH_YEAR_MIN} and today")
    return date


def validate_profile(profile: Profile, prefix: str = "profile.") -> Profile:
    for name in ("given_name", "family_name"):
        value = getattr(profile, name)
        if len(value) > NAME_LENGTH_MAX:
            raise InvalidArgument(f"{prefix}{name}", f"is longer than {NAME_LENGTH_MAX} characters")
        if value and not value.isprintable():
            raise InvalidArgument(f"{prefix}{name}", "must not contain control characters")
    if profile.locale and not _LOCALE.fullmatch(profile.locale):
        raise InvalidArgument(f"{prefix}locale", "must be a BCP 47 tag such as nl-NL")
    if profile.home_store_id and (
        len(profile.home_store_id) > STORE_ID_LENGTH_MAX
        or not _STORE_ID.fullmatch(profile.home_store_id)
    ):
        raise InvalidArgument(
            f"{prefix}home_store_id",
            f"must be 1-{STORE_ID_LENGTH_MAX} letters, digits, '.', '-' or '_'",
        )
    _validate_preferences(profile.preferences, f"{prefix}preferences")
    return profile


def _validate_preferences(preferences: Mapping[str, str], field_name: str) -> None:
    if len(preferences) > PREFERENCES_COUNT_MAX:
        raise InvalidArgument(field_name, f"has more than {PREFERENCES_COUNT_MAX} entries")
    for key, value in preferences.items():
        if len(key) > PREFERENCE_KEY_LENGTH_MAX or not _PREFERENCE_KEY.fullmatch(key):
            raise InvalidArgument(
                field_name,
                f"key {key[:PREFERENCE_KEY_LENGTH_MAX]!r} must be lowercase letters, digits, '.', '-' or '_'",
            )
        if len(value) > PREFERENCE_VALUE_LENGTH_MAX:
            raise InvalidArgument(
                f"{field_name}[{key}]", f"is longer than {PREFERENCE_VALUE_LENGTH_MAX} characters"
            )
        if "\x00" in value:
            # jsonb cannot hold it: the write failed, naming no field.
            raise InvalidArgument(f"{field_name}[{key}]", "must not contain NUL characters")


def apply_profile_update(current: Profile, changes: Profile, paths: list[str]) -> Profile:
    if not paths:
        raise InvalidArgument("update_mask", "names no field to change")
    unknown = [path for path in paths if path not in PROFILE_FIELDS]
    if unknown:
        raise InvalidArgument(
            "update_mask", f"cannot change {', '.join(unknown)}; changeable: {list(PROFILE_FIELDS)}"
        )
    return validate_profile(replace(current, **{path: getattr(changes, path) for path in paths}))


def consent_channel(value: int, field_name: str) -> int:
    if value not in CONSENT_CHANNELS:
        raise InvalidArgument(field_name, "must be email, sms or push")
    return value


def channel(value: int, field_name: str) -> int:
    if value not in CHANNELS:
        raise InvalidArgument(field_name, "must be a known channel such as app or store")
    return value
