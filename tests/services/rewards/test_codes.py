"""Codes: their format, checking and using them at tills, expiry, partner pools."""

import asyncio
import datetime as dt
import math

import asyncpg
import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from services.rewards import codes
from tests.services.rewards.conftest import PROGRAM, key, reason, reward


def test_generated_codes_carry_80_random_bits_in_an_unambiguous_alphabet() -> None:
    made = {codes.generate() for _ in range(20_000)}
    assert len(made) == 20_000
    assert codes.SYMBOLS * math.log2(len(codes.ALPHABET)) >= 80
    used = set("".join(made))
    assert used == set(codes.ALPHABET) and not used & set("ILOU")
    code = next(iter(made))
    shown = codes.display(code)
    assert len(shown) == 19 and shown.replace("-", "") == code


def test_a_code_with_a_final_newline_is_neither_a_partner_code_nor_shown_as_ours() -> None:
    assert codes.is_partner_code("GIFT-2026") and not codes.is_partner_code("GIFT-2026\n")
    ours = codes.generate()
    assert codes.display(ours + "\n") == ours + "\n"


def test_a_typed_code_is_read_back_whatever_the_case_separators_or_look_alikes() -> None:
    code = "0123456789ABCDEF"
    for typed in (
        "0123-4567-89AB-CDEF",
        "o123 4567 89ab cdef",
        "O1234567-89abcdef",
        "0l23456789ABCDEF",
    ):
        assert code in codes.lookup_forms(typed), typed
    assert codes.canonical("SHORT") is None
    assert codes.lookup_forms(" PARTNER-42 ") == ["PARTNER-42"]


def _ts(moment: dt.datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


async def test_a_till_checks_a_code_and_uses_it_once(platform, database_url) -> None:
    await platform.ledger.earn("m1", 1_000)
    coffee = await platform.create(reward(store_ids=["s1", "s2"]))
    [issued] = (await platform.redeem("m1", coffee.reward_id)).codes

    typed = issued.code.replace("-", "").lower()
    checked = await platform.validate(typed)
    assert checked.status == rewards_pb2.CODE_STATUS_VALID
    assert (checked.member_id, checked.reward_id, checked.reward_name) == (
        "m1",
        coffee.reward_id,
        "Free coffee",
    )
    assert checked.reward_kind == common_pb2.REWARD_KIND_COUPON
    assert checked.discount.percent_bps == 10_000
    wrong_store = await platform.validate(typed, store_id="s9")
    assert wrong_store.status == rewards_pb2.CODE_STATUS_WRONG_STORE
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.use(typed, store_id="s9")
    assert reason(error.value) == "CODE_WRONG_STORE"

    use_key = key()
    used = await platform.use(issued.code, idempotency_key=use_key)
    assert used.status == rewards_pb2.CODE_STATUS_USED and used.member_id == "m1"
    assert await platform.use(issued.code, idempotency_key=use_key) == used  # a retry
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.use(issued.code)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(error.value) == "CODE_USED"
    again = await platform.validate(issued.code)
    assert again.status == rewards_pb2.CODE_STATUS_USED and again.used_at.seconds > 0

    unknown = await platform.validate("AAAA-BBBB-CCCC-DDDD")
    assert unknown == rewards_pb2.ValidateCodeResponse(status=rewards_pb2.CODE_STATUS_UNKNOWN)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.use("AAAA-BBBB-CCCC-DDDD")
    assert reason(error.value) == "CODE_UNKNOWN"

    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT subject, payload FROM rewards.outbox ORDER BY seq")
    finally:
        await connection.close()
    subjects = [row["subject"].split(".", 1)[1] for row in rows]
    assert subjects == ["rewards.reward_redeemed", "rewards.code_used"]
    code_used = events_pb2.Event.FromString(rows[1]["payload"]).code_used
    assert code_used.code_suffix == issued.code[-4:] and code_used.store_id == "s1"


async def test_a_code_used_at_two_tills_at_the_same_moment_is_accepted_once(
    platform, start_service
) -> None:
    await platform.ledger.earn("m1", 10_000)
    coffee = await platform.create(reward(points_price=100))
    redemption = await platform.redeem("m1", coffee.reward_id, quantity=5)
    port = platform.rewards_service.port
    tills = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for _ in range(2)]
    try:
        stubs = [rewards_pb2_grpc.RewardsServiceStub(till) for till in tills]
        for issued in redemption.codes:
            attempts = [
                stub.UseCode(
                    rewards_pb2.UseCodeRequest(
                        program_id=PROGRAM,
                        idempotency_key=key(),
                        code=issued.code,
                        store_id="s1",
                        till_id=f"till-{index}",
                    )
                )
                for index, stub in enumerate(stubs)
            ]
            results = await asyncio.gather(*attempts, return_exceptions=True)
            accepted = [r for r in results if isinstance(r, rewards_pb2.UseCodeResponse)]
            refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
            assert len(accepted) == 1 and len(refused) == 1, results
            assert reason(refused[0]) == "CODE_USED"
    finally:
        for till in tills:
            await till.close()


async def test_codes_expire(platform) -> None:
    await platform.ledger.earn("m1", 1_000)
    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)
    short = await platform.create(reward(valid_until=_ts(until)))
    [issued] = (await platform.redeem("m1", short.reward_id)).codes
    assert abs(issued.expires_at.ToDatetime(dt.UTC) - until) < dt.timedelta(milliseconds=1)
    await asyncio.sleep(max(0.0, (until - dt.datetime.now(dt.UTC)).total_seconds()) + 0.1)
    assert (await platform.validate(issued.code)).status == rewards_pb2.CODE_STATUS_EXPIRED
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.use(issued.code)
    assert reason(error.value) == "CODE_EXPIRED"


async def test_partner_codes_are_imported_in_bulk_and_handed_out_in_order(platform) -> None:
    await platform.ledger.earn("m1", 10_000)
    partner = await platform.create(
        reward(code_source=rewards_pb2.CODE_SOURCE_PARTNER_POOL, points_price=100)
    )

    async def import_codes(values, *, reward_id=partner.reward_id, idempotency_key=""):
        return await platform.import_codes(reward_id, values, idempotency_key=idempotency_key)

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await import_codes(["GOOD-1", "has space"])
    assert error.value.details().startswith("codes[1]:")
    imported = await import_codes(["CINEMA-1", "CINEMA-2", "CINEMA-3", "CINEMA-1"])
    assert (imported.imported_count, imported.duplicate_count) == (3, 1)
    assert imported.pool_available_count == 3
    again = await import_codes(["CINEMA-3", "CINEMA-4"])
    assert (again.imported_count, again.duplicate_count, again.pool_available_count) == (1, 1, 4)

    redemption = await platform.redeem("m1", partner.reward_id, quantity=3)
    assert [c.code for c in redemption.codes] == ["CINEMA-1", "CINEMA-2", "CINEMA-3"]
    assert (await platform.validate("CINEMA-2")).member_id == "m1"
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.redeem("m1", partner.reward_id, quantity=2)
    assert reason(error.value) == "CODES_EXHAUSTED"

    generated = await platform.create(reward())
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await import_codes(["X-1"], reward_id=generated.reward_id)
    assert reason(error.value) == "NOT_A_PARTNER_POOL"


# No minimum validity left: a code a second from its expiry may be imported and handed out.
@pytest.mark.parametrize(
    "rewards_overrides", [{"partner_code_validity_left_min_ms": 0}], indirect=True
)
async def test_partner_codes_past_their_expiry_are_never_handed_out(platform) -> None:
    await platform.ledger.earn("m1", 1_000)
    partner = await platform.create(
        reward(code_source=rewards_pb2.CODE_SOURCE_PARTNER_POOL, points_price=100)
    )

    async def import_codes(values: list[str], expires_at: dt.datetime | None = None):  # type: ignore[no-untyped-def]
        return await platform.import_codes(
            partner.reward_id, values, expires_at=_ts(expires_at) if expires_at else None
        )

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await import_codes(["LAST-YEAR-1"], dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("expires_at:")
    await import_codes(["SOON-1"], dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    imported = await import_codes(["LATER-1"])
    assert imported.pool_available_count == 2
    await asyncio.sleep(1.2)  # SOON-1, first in the pool, has expired
    redemption = await platform.redeem("m1", partner.reward_id, quantity=1)
    assert [c.code for c in redemption.codes] == ["LATER-1"]
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.redeem("m1", partner.reward_id, quantity=1)
    assert reason(error.value) == "CODES_EXHAUSTED"
    balance = await platform.ledger.balance("m1")
    assert (balance.available_points, balance.held_points) == (900, 0)


async def test_a_partner_code_is_used_alone_though_another_reads_the_same_when_normalised(
    platform,
) -> None:
    # A partner's codes are case-sensitive and may differ only by case or by O and 0: each is its
    # own code. Typed exactly, a code reached the other too through the generated-code form
    # (upper case, O as 0), and UseCode marked both used: another member's code was spent.
    await platform.ledger.earn("m1", 1_000)
    await platform.ledger.earn("m2", 1_000)
    partner = await platform.create(
        reward(code_source=rewards_pb2.CODE_SOURCE_PARTNER_POOL, points_price=100)
    )
    await platform.import_codes(
        partner.reward_id,
        ["gift7kq2m9xd4htb", "CINEMAO000000001", "GIFT7KQ2M9XD4HTB", "C1NEMA0000000001"],
    )
    first = await platform.redeem("m1", partner.reward_id, quantity=2)
    second = await platform.redeem("m2", partner.reward_id, quantity=2)
    assert {c.code for c in first.codes} == {"gift7kq2m9xd4htb", "CINEMAO000000001"}
    assert {c.code for c in second.codes} == {"GIFT7KQ2M9XD4HTB", "C1NEMA0000000001"}

    for code in ("gift7kq2m9xd4htb", "CINEMAO000000001"):
        assert (await platform.validate(code)).member_id == "m1"
        used = await platform.use(code)
        assert used.member_id == "m1" and used.redemption_id == first.redemption_id
    for code in ("GIFT7KQ2M9XD4HTB", "C1NEMA0000000001"):
        validated = await platform.validate(code)
        assert (validated.status, validated.member_id) == (rewards_pb2.CODE_STATUS_VALID, "m2")
    second_now = await platform.get_redemption(second.redemption_id)
    assert {c.status for c in second_now.codes} == {rewards_pb2.CODE_STATUS_VALID}
    # The other member's codes are used alone too, and m1's stay used.
    for code in ("GIFT7KQ2M9XD4HTB", "C1NEMA0000000001"):
        assert (await platform.use(code)).member_id == "m2"
    first_now = await platform.get_redemption(first.redemption_id)
    assert {c.status for c in first_now.codes} == {rewards_pb2.CODE_STATUS_USED}


async def test_a_partner_code_that_is_already_a_code_here_is_a_duplicate_not_a_blocked_pool(
    platform, database_url
) -> None:
    # A code the program issued already (one of ours pasted into a partner's list) cannot be
    # issued twice. Kept in the pool, it came first for every redemption, each was refused
    # CODES_EXHAUSTED, and the codes behind it were never handed out.
    await platform.ledger.earn("m1", 2_000)
    ours = await platform.redeem("m1", (await platform.create(reward())).reward_id)
    issued = ours.codes[0].code.replace("-", "")
    partner = await platform.create(
        reward(code_source=rewards_pb2.CODE_SOURCE_PARTNER_POOL, points_price=100)
    )
    imported = await platform.import_codes(partner.reward_id, [issued, "CINEMA-1"])
    assert (imported.imported_count, imported.duplicate_count) == (1, 1)
    assert imported.pool_available_count == 1
    # One imported before such codes were refused sits first in the pool: it is passed over.
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "INSERT INTO rewards.partner_codes (program_id, code, reward_id, seq) "
            "VALUES ($1, $2, $3, 0)",
            PROGRAM,
            issued,
            partner.reward_id,
        )
    finally:
        await connection.close()
    redemption = await platform.redeem("m1", partner.reward_id)
    assert [c.code for c in redemption.codes] == ["CINEMA-1"]
    assert (await platform.validate(issued)).redemption_id == ours.redemption_id


async def test_partner_codes_about_to_expire_are_passed_over(platform, database_url) -> None:
    # A partner code expiring an hour after it is handed out is of no use to the member (a cinema
    # ticket for tonight bought with points this afternoon): codes with less than a day left (the
    # default of REWARDS_PARTNER_CODE_VALIDITY_LEFT_MIN_MS) are passed over for the next usable
    # one, and none left is CODES_EXHAUSTED before anything is held.
    await platform.ledger.earn("m1", 1_000)
    partner = await platform.create(
        reward(code_source=rewards_pb2.CODE_SOURCE_PARTNER_POOL, points_price=100)
    )

    async def import_codes(values: list[str], expires_at: dt.datetime):  # type: ignore[no-untyped-def]
        return await platform.import_codes(partner.reward_id, values, expires_at=_ts(expires_at))

    now = dt.datetime.now(dt.UTC)
    # Imported with less than a day left, it could never be handed out: refused, naming the field.
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await import_codes(["TONIGHT-0"], now + dt.timedelta(hours=1))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("expires_at:")
    # One imported weeks ago, first in the pool, now has an hour left.
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "INSERT INTO rewards.partner_codes (program_id, code, reward_id, seq, expires_at) "
            "VALUES ($1, 'TONIGHT-1', $2, 0, $3)",
            PROGRAM,
            partner.reward_id,
            now + dt.timedelta(hours=1),
        )
    finally:
        await connection.close()
    imported = await import_codes(["NEXT-WEEK-1"], now + dt.timedelta(days=7))
    assert imported.pool_available_count == 1

    redemption = await platform.redeem("m1", partner.reward_id)
    assert [c.code for c in redemption.codes] == ["NEXT-WEEK-1"]
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await platform.redeem("m1", partner.reward_id)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(error.value) == "CODES_EXHAUSTED"
    balance = await platform.ledger.balance("m1")
    assert (balance.available_points, balance.held_points) == (900, 0)
