"""Field checks at the boundary: each failure is INVALID_ARGUMENT naming the field."""

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from services.shared import validation
from services.shared.errors import InvalidArgument


def test_a_decimal_id_is_ascii_digits_within_its_column() -> None:
    assert validation.decimal_id("0042", "posting_id", what="a posting id") == 42
    assert validation.decimal_id(str(2**63 - 1), "posting_id", what="a posting id") == 2**63 - 1


@pytest.mark.parametrize(
    ("value", "high"),
    [
        ("", validation.INT64_MAX),
        ("-1", validation.INT64_MAX),
        (" 1", validation.INT64_MAX),
        ("²", validation.INT64_MAX),  # str.isdigit() is true, int() fails
        ("١٢", validation.INT64_MAX),  # Arabic-Indic digits: int() reads 12
        (str(2**63), validation.INT64_MAX),
        ("9" * 25, validation.INT64_MAX),
        (str(2**31), validation.INT32_MAX),
    ],
)
def test_anything_else_names_the_field(value: str, high: int) -> None:
    with pytest.raises(InvalidArgument) as error:
        validation.decimal_id(value, "rule_ref", what="a rule version", high=high)
    assert error.value.field == "rule_ref"
    assert "is not a rule version" in str(error.value)


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (lambda v: validation.program_id(v), "acme\n"),
        (lambda v: validation.code(v, "tier"), "gold\n"),
        (lambda v: validation.currency(v), "EUR\n"),
        (lambda v: validation.decimal_id(v, "posting_id", what="a posting id"), "12\n"),
    ],
)
def test_a_value_with_a_final_newline_is_not_the_value(check, value: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgument):
        check(value)


@pytest.mark.parametrize(
    "stamp",
    [
        Timestamp(seconds=validation.TIMESTAMP_SECONDS_MIN - 1),  # before the year 1
        Timestamp(seconds=0, nanos=-1),
        Timestamp(seconds=0, nanos=1_000_000_000),
        Timestamp(seconds=4_102_444_800),  # 2100-01-01
    ],
)
def test_a_stored_instant_is_a_date_before_2100(stamp: Timestamp) -> None:
    with pytest.raises(InvalidArgument) as error:
        validation.stored_instant(stamp, "experiment.start_time", unset="now")
    assert error.value.field == "experiment.start_time"


def test_a_stored_instant_may_be_any_date_before_2100() -> None:
    for seconds in (validation.TIMESTAMP_SECONDS_MIN, 0, 4_102_444_799):
        validation.stored_instant(Timestamp(seconds=seconds, nanos=999_999_999), "f", unset="-")
