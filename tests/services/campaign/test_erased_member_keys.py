"""An erased member's idempotency keys are kept in campaign only under their keyed hash
(CAMPAIGN_FORGOTTEN_KEY_SECRET), as identity keeps them, on real identity, ledger and campaign
processes: the raw keys leave `idempotency_keys` and `purchase_answer_keys` on member_erased,
a retry with an original key still gets its original answer, and a redelivery changes
nothing."""

import datetime as dt
import types

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from services.campaign.consumers_insight import SegmentFactsHandler
from services.campaign.grouped_purchases import _first_accruals
from services.shared.idempotency import LOCAL_FORGOTTEN_KEY_SECRET, Forgetting
from tests.services.campaign.streams import eventually
from tests.services.campaign.support import PROGRAM, eur, ts
from tests.services.campaign.test_unknown_members import AT, refusing_platform

FORGETTING = Forgetting(LOCAL_FORGOTTEN_KEY_SECRET.encode())


def returned(key: str, member: str) -> campaign_pb2.RecordReturnRequest:
    return campaign_pb2.RecordReturnRequest(
        program_id=PROGRAM,
        idempotency_key=key,
        member_id=member,
        return_id="r1",
        original_transaction_id="till-7:p1",
        refunded_amount=eur(500),
        channel=common_pb2.CHANNEL_POS,
        occurred_at=ts(AT + dt.timedelta(minutes=5)),
    )


async def test_an_erased_members_keys_are_kept_only_hashed_and_retries_get_their_answers(
    start_service,
) -> None:
    async with refusing_platform(start_service) as platform:
        campaign = platform.campaign
        pool = campaign.service.runtime.pool
        ann, bea = await platform.enrol(), await platform.enrol()
        # Till keys that name the person, as a short POS key may.
        bought = await campaign.purchase(
            ann, "till-7:p1", 2_000, at=AT, idempotency_key="pos:ann@example.com:p1"
        )
        back = await campaign.stub.RecordReturn(returned("pos:ann@example.com:r1", ann))
        activity = campaign_pb2.RecordActivityRequest(
            program_id=PROGRAM,
            idempotency_key="pos:ann@example.com:s1",
            activity=engagement_pb2.Activity(
                activity_id="s1",
                member_id=ann,
                kind=common_pb2.ACTIVITY_KIND_SOCIAL_SHARE,
                channel=common_pb2.CHANNEL_APP,
            ),
        )
        shared = await campaign.stub.RecordActivity(activity)
        kept = await campaign.purchase(bea, "till-7:p2", 1_000, at=AT, idempotency_key="pos:bea")
        ann_keys = [
            "pos:ann@example.com:p1",
            "pos:ann@example.com:r1",
            "pos:ann@example.com:s1",
        ]

        async def raw_keys() -> set[str]:
            rows = await pool.fetch(
                "SELECT idempotency_key FROM idempotency_keys WHERE program_id = $1 "
                "AND idempotency_key LIKE 'pos:%'",
                PROGRAM,
            )
            answer_keys = await pool.fetch(
                "SELECT idempotency_key FROM purchase_answer_keys WHERE program_id = $1",
                PROGRAM,
            )
            return {row["idempotency_key"] for row in [*rows, *answer_keys]}

        assert set(ann_keys) < await raw_keys()
        await platform.erase(ann)

        async def forgotten() -> bool:
            return not set(ann_keys) & await raw_keys()

        await eventually(forgotten)
        # The other member's keys are untouched; the erased one's are there under their hash.
        assert {"pos:bea"} <= await raw_keys()
        hashed = await pool.fetch(
            "SELECT idempotency_key, method FROM idempotency_keys WHERE program_id = $1 "
            "AND idempotency_key = ANY($2::text[])",
            PROGRAM,
            [FORGETTING.key(key) for key in ann_keys],
        )
        assert sorted(row["method"] for row in hashed) == [
            "RecordActivity",
            "RecordPurchase",
            "RecordReturn",
        ]
        assert await pool.fetchval(
            "SELECT idempotency_key FROM purchase_answer_keys WHERE program_id = $1 "
            "AND member_id = $2",
            PROGRAM,
            ann,
        ) == FORGETTING.key("pos:ann@example.com:p1")

        async def retried() -> None:
            again = await campaign.purchase(
                ann, "till-7:p1", 2_000, at=AT, idempotency_key="pos:ann@example.com:p1"
            )
            assert again == bought
            assert await campaign.stub.RecordReturn(returned("pos:ann@example.com:r1", ann)) == back
            assert await campaign.stub.RecordActivity(activity) == shared
            found = await campaign.stub.FindRecordedAnswer(
                campaign_pb2.FindRecordedAnswerRequest(
                    purchase=campaign_pb2.RecordPurchaseRequest(
                        program_id=PROGRAM,
                        idempotency_key="pos:ann@example.com:p1",
                        transaction_id="till-7:p1",
                        amount=eur(2_000),
                        channel=common_pb2.CHANNEL_POS,
                        occurred_at=ts(AT),
                    )
                )
            )
            assert found.purchase == bought
            # A duplicate of the purchase under a new key is answered from the record its
            # (now hashed) key keeps.
            async with pool.acquire() as connection:
                first = await _first_accruals(
                    connection,
                    PROGRAM,
                    [campaign_pb2.RecordPurchaseRequest(member_id=ann, transaction_id="till-7:p1")],
                )
            assert first[(ann, "till-7:p1")] == bought.accrual

        await retried()
        assert (
            await campaign.purchase(bea, "till-7:p2", 1_000, at=AT, idempotency_key="pos:bea")
        ) == kept

        # member_erased delivered again: nothing changes, the keys are not hashed twice.
        before = await pool.fetch(
            "SELECT idempotency_key, method, request_hash, response FROM idempotency_keys "
            "WHERE program_id = $1 ORDER BY idempotency_key",
            PROGRAM,
        )
        handler = SegmentFactsHandler(pool, FORGETTING)
        event = events_pb2.Event(
            program_id=PROGRAM, member_erased=events_pb2.MemberErased(member_id=ann)
        )
        await handler(
            types.SimpleNamespace(  # type: ignore[arg-type]
                data=event.SerializeToString(), subject="identity.member_erased"
            )
        )
        after = await pool.fetch(
            "SELECT idempotency_key, method, request_hash, response FROM idempotency_keys "
            "WHERE program_id = $1 ORDER BY idempotency_key",
            PROGRAM,
        )
        assert after == before
        await retried()
