"""The ledger's part of a program: configuration and tiers, through real gRPC on real PostgreSQL."""

import base64
import json

import grpc
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from services.ledger.app import SPEC, LedgerConfig


def program_config(program_id: str = "acme", **overrides: object) -> ledger_pb2.ProgramConfig:
    config = ledger_pb2.ProgramConfig(
        program_id=program_id,
        points_name="stars",
        currency="EUR",
        time_zone="Europe/Amsterdam",
        return_window_days=14,
        expiry_policy=ledger_pb2.ExpiryPolicy(
            kind=ledger_pb2.EXPIRY_KIND_ROLLING_MONTHS, months=24
        ),
        negative_balance_policy=ledger_pb2.NEGATIVE_BALANCE_POLICY_RECORD_DEBT,
        hold_ttl_seconds=900,
        tier_window=ledger_pb2.TierWindow(
            kind=ledger_pb2.TIER_WINDOW_KIND_ROLLING_DAYS,
            rolling_days=365,
            requalification_period=ledger_pb2.CALENDAR_PERIOD_YEAR,
        ),
        qualifying_basis=ledger_pb2.QUALIFYING_BASIS_POINTS,
        rounding_mode=common_pb2.ROUNDING_MODE_HALF_EVEN,
        expiry_notice_days=30,
        entry_tier_code="member",
    )
    for field, value in overrides.items():
        if hasattr(value, "DESCRIPTOR"):
            getattr(config, field).CopyFrom(value)
        else:
            setattr(config, field, value)
    return config


TIERS = [
    ledger_pb2.TierDefinition(
        code="member", name="Member", rank=0, threshold=0, multiplier_bps=10_000
    ),
    ledger_pb2.TierDefinition(
        code="silver", name="Silver", rank=1, threshold=1_000, multiplier_bps=12_500
    ),
    ledger_pb2.TierDefinition(
        code="gold",
        name="Gold",
        rank=2,
        threshold=5_000,
        multiplier_bps=15_000,
        benefits_text="Free shipping",
    ),
]


@pytest.fixture
async def ledger(start_service):
    async with start_service(SPEC, LedgerConfig) as (_, channel):
        yield ledger_pb2_grpc.LedgerServiceStub(channel)


async def configure(ledger, config: ledger_pb2.ProgramConfig, key: str = "configure-1"):
    return await ledger.ConfigureProgram(
        ledger_pb2.ConfigureProgramRequest(
            program_id=config.program_id, idempotency_key=key, config=config
        )
    )


async def test_a_configured_program_reads_back(ledger) -> None:
    stored = (await configure(ledger, program_config())).config
    read = (await ledger.GetProgram(ledger_pb2.GetProgramRequest(program_id="acme"))).config
    assert read == stored
    assert read.time_zone == "Europe/Amsterdam" and read.expiry_policy.months == 24
    assert read.update_time.seconds > 0


async def test_the_unknown_member_policy_is_earn_unless_refuse_is_asked(ledger) -> None:
    # Clients written before the policy existed send none: their programs keep earning.
    assert program_config().unknown_member_policy == ledger_pb2.UNKNOWN_MEMBER_POLICY_UNSPECIFIED
    stored = (await configure(ledger, program_config())).config
    assert stored.unknown_member_policy == ledger_pb2.UNKNOWN_MEMBER_POLICY_EARN
    refusing = program_config(unknown_member_policy=ledger_pb2.UNKNOWN_MEMBER_POLICY_REFUSE)
    await configure(ledger, refusing, key="configure-2")
    read = (await ledger.GetProgram(ledger_pb2.GetProgramRequest(program_id="acme"))).config
    assert read.unknown_member_policy == ledger_pb2.UNKNOWN_MEMBER_POLICY_REFUSE


async def test_the_same_key_replays_and_another_request_with_it_is_refused(ledger) -> None:
    first = await configure(ledger, program_config())
    again = await configure(ledger, program_config())
    assert again == first
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await configure(ledger, program_config(points_name="miles"))
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "idempotency_key" in error.value.details()
    read = (await ledger.GetProgram(ledger_pb2.GetProgramRequest(program_id="acme"))).config
    assert read.points_name == "stars"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"currency": "euro"}, "config.currency"),
        ({"time_zone": "Mars/Olympus"}, "config.time_zone"),
        ({"return_window_days": 400}, "config.return_window_days"),
        ({"hold_ttl_seconds": 0}, "config.hold_ttl_seconds"),
        ({"points_name": ""}, "config.points_name"),
        ({"entry_tier_code": "Not A Code"}, "config.entry_tier_code"),
        ({"program_id": "other"}, "config.program_id"),
        ({"negative_balance_policy": 9}, "config.negative_balance_policy"),
        ({"rounding_mode": 9}, "config.rounding_mode"),
        ({"qualifying_basis": 9}, "config.qualifying_basis"),
        ({"unknown_member_policy": 9}, "config.unknown_member_policy"),
        (
            {"expiry_policy": ledger_pb2.ExpiryPolicy(kind=9, months=24)},
            "config.expiry_policy.kind",
        ),
        (
            {
                "tier_window": ledger_pb2.TierWindow(
                    kind=1, rolling_days=365, requalification_period=9
                )
            },
            "config.tier_window.requalification_period",
        ),
    ],
)
async def test_bad_configuration_names_the_field_and_writes_nothing(
    ledger, overrides, field
) -> None:
    config = program_config(**overrides)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.ConfigureProgram(
            ledger_pb2.ConfigureProgramRequest(
                program_id="acme", idempotency_key="k", config=config
            )
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith(f"{field}:")
    assert ("loyalty-error-field", field) in tuple(error.value.trailing_metadata())
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await ledger.GetProgram(ledger_pb2.GetProgramRequest(program_id="acme"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_change_without_an_idempotency_key_is_refused(ledger) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await configure(ledger, program_config(), key="")
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("idempotency_key:")


async def test_tiers_are_set_and_listed_by_rank_in_pages(ledger) -> None:
    await configure(ledger, program_config())
    response = await ledger.SetTierDefinitions(
        ledger_pb2.SetTierDefinitionsRequest(
            program_id="acme", idempotency_key="tiers-1", tiers=TIERS[::-1]
        )
    )
    assert [t.code for t in response.tiers] == ["member", "silver", "gold"]
    first = await ledger.ListTierDefinitions(
        ledger_pb2.ListTierDefinitionsRequest(program_id="acme", page_size=2)
    )
    assert [t.code for t in first.tiers] == ["member", "silver"] and first.next_page_token
    second = await ledger.ListTierDefinitions(
        ledger_pb2.ListTierDefinitionsRequest(
            program_id="acme", page_size=2, page_token=first.next_page_token
        )
    )
    assert [t.code for t in second.tiers] == ["gold"] and not second.next_page_token
    assert second.tiers[0].benefits_text == "Free shipping"


@pytest.mark.parametrize(
    ("tiers", "code", "message"),
    [
        (TIERS[1:], grpc.StatusCode.INVALID_ARGUMENT, "threshold 0"),
        ([TIERS[0], TIERS[0]], grpc.StatusCode.INVALID_ARGUMENT, "unique"),
        (
            [TIERS[0], ledger_pb2.TierDefinition(code="silver", name="S", rank=1, threshold=0)],
            grpc.StatusCode.INVALID_ARGUMENT,
            "higher threshold",
        ),
        (
            [ledger_pb2.TierDefinition(code="basic", name="Basic", rank=0, threshold=0)],
            grpc.StatusCode.FAILED_PRECONDITION,
            "entry tier",
        ),
    ],
)
async def test_inconsistent_tiers_are_refused(ledger, tiers, code, message) -> None:
    await configure(ledger, program_config())
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.SetTierDefinitions(
            ledger_pb2.SetTierDefinitionsRequest(
                program_id="acme", idempotency_key="t", tiers=tiers
            )
        )
    assert error.value.code() == code
    assert message in error.value.details()


async def test_tiers_of_an_unknown_program_are_not_found(ledger) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.SetTierDefinitions(
            ledger_pb2.SetTierDefinitionsRequest(
                program_id="nope", idempotency_key="t", tiers=TIERS
            )
        )
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_forged_page_token_is_refused(ledger) -> None:
    await configure(ledger, program_config())
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.ListTierDefinitions(
            ledger_pb2.ListTierDefinitionsRequest(program_id="acme", page_token="bm9wZQ==")
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("page_token:")


async def test_a_page_token_holding_a_rank_past_32_bits_is_refused(ledger) -> None:
    await configure(ledger, program_config())
    # A rank within 64 bits but not 32: past decode_page_token's bound, not past the column's.
    token = base64.urlsafe_b64encode(json.dumps({"rank": 2**40}).encode()).decode()
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.ListTierDefinitions(
            ledger_pb2.ListTierDefinitionsRequest(program_id="acme", page_token=token)
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("loyalty-error-field", "page_token") in tuple(error.value.trailing_metadata())


async def test_tiers_where_the_entry_tier_does_not_rank_lowest_are_refused(ledger) -> None:
    await configure(ledger, program_config())  # entry tier "member"
    tiers = [
        ledger_pb2.TierDefinition(code="gold", name="Gold", rank=3, threshold=5_000),
        ledger_pb2.TierDefinition(code="member", name="Member", rank=2, threshold=100),
        ledger_pb2.TierDefinition(code="basic", name="Basic", rank=1, threshold=0),
    ]
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ledger.SetTierDefinitions(
            ledger_pb2.SetTierDefinitionsRequest(
                program_id="acme", idempotency_key="t", tiers=tiers
            )
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("tiers[1].rank:"), error.value.details()
    assert ("loyalty-error-field", "tiers[1].rank") in tuple(error.value.trailing_metadata())
    listed = await ledger.ListTierDefinitions(
        ledger_pb2.ListTierDefinitionsRequest(program_id="acme")
    )
    assert list(listed.tiers) == []


async def test_before_tiers_exist_the_entry_tier_may_be_any_code(ledger) -> None:
    await configure(ledger, program_config(entry_tier_code="basic"))
    # The tiers come later and must then include the entry tier, ranked lowest.
    await configure(ledger, program_config(), key="configure-2")
    await ledger.SetTierDefinitions(
        ledger_pb2.SetTierDefinitionsRequest(program_id="acme", idempotency_key="t", tiers=TIERS)
    )
    read = (await ledger.GetProgram(ledger_pb2.GetProgramRequest(program_id="acme"))).config
    assert read.entry_tier_code == "member"


@pytest.mark.parametrize(
    ("code", "reason"),
    [("silver", "ENTRY_TIER_NOT_LOWEST"), ("platinum", "ENTRY_TIER_UNDEFINED")],
)
async def test_once_tiers_exist_the_entry_tier_must_be_the_lowest_of_them(
    ledger, code: str, reason: str
) -> None:
    await configure(ledger, program_config())  # entry tier "member", the lowest of TIERS
    await ledger.SetTierDefinitions(
        ledger_pb2.SetTierDefinitionsRequest(program_id="acme", idempotency_key="t", tiers=TIERS)
    )
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await configure(ledger, program_config(entry_tier_code=code), key="configure-2")
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("config.entry_tier_code:"), error.value.details()
    metadata = tuple(error.value.trailing_metadata())
    assert ("loyalty-error-field", "config.entry_tier_code") in metadata
    assert ("loyalty-error-reason", reason) in metadata
    read = (await ledger.GetProgram(ledger_pb2.GetProgramRequest(program_id="acme"))).config
    assert read.entry_tier_code == "member"
    # Another change that keeps the lowest tier as the entry tier is made.
    changed = await configure(ledger, program_config(points_name="miles"), key="configure-3")
    assert (changed.config.points_name, changed.config.entry_tier_code) == ("miles", "member")
