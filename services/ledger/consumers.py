"""What the ledger consumes from JetStream: new members get their account in the entry tier."""

import datetime as dt
import logging

import asyncpg
from nats.aio.msg import Msg

from loyalty.events.v1 import events_pb2
from services.ledger import repository, store
from services.shared.jetstream import ConsumerSpec

logger = logging.getLogger(__name__)

MEMBER_ENROLLED_CONSUMER = ConsumerSpec(
    stream="identity",
    durable="ledger_member_enrolled",
    filter_subjects=("identity.member_enrolled",),
)


class MemberEnrolledHandler:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def __call__(self, message: Msg) -> None:
        event = events_pb2.Event.FromString(message.data)
        enrolled = event.member_enrolled
        # Opening twice is a no-op, so a redelivered event has no second effect.
        async with self.pool.acquire() as connection, connection.transaction():
            program = await repository.fetch_program(connection, event.program_id)
            if program is None:
                # The program's ledger part is not configured yet; the first credit opens the account.
                logger.info(
                    "member %s enrolled in unconfigured program %s",
                    enrolled.member_id,
                    event.program_id,
                )
                return
            tier = enrolled.entry_tier_code or program[0].entry_tier_code
            opened_at = (
                event.occurred_at.ToDatetime(tzinfo=dt.UTC)
                if event.HasField("occurred_at")
                else dt.datetime.now(dt.UTC)
            )
            await store.open_account(
                connection, event.program_id, enrolled.member_id, tier_code=tier, now=opened_at
            )
