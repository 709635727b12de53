"""CodeUsed as read from JetStream: its code_suffix is the last characters of the code, for
support, and never the whole code (events.proto), short partner codes included."""

import pytest

from loyalty.rewards.v1 import rewards_pb2
from tests.conftest import Servers
from tests.services.rewards.conftest import reward
from tests.support.streams import published


async def code_used_events(platform, servers: Servers, nats_namespace: str):  # type: ignore[no-untyped-def]
    await platform.rewards_service.relay.flush(timeout_s=10)
    events = await published(servers, nats_namespace, "rewards.code_used")
    return [event.code_used for event in events]


@pytest.mark.parametrize(
    ("code", "suffix"),
    [
        ("GIFT7KQ2M9XD", "M9XD"),  # the last four, as before
        ("AB12", "12"),  # four characters: half of them, not all
        ("X7Q", "Q"),
        ("Z", ""),  # nothing of a code of one character
    ],
)
async def test_a_used_code_is_announced_by_a_suffix_that_is_never_the_whole_code(
    platform, servers: Servers, nats_namespace: str, code: str, suffix: str
) -> None:
    await platform.ledger.earn("m1", 1_000)
    partner = await platform.create(
        reward(code_source=rewards_pb2.CODE_SOURCE_PARTNER_POOL, points_price=100)
    )
    await platform.import_codes(partner.reward_id, [code])
    [issued] = (await platform.redeem("m1", partner.reward_id)).codes
    assert issued.code == code
    await platform.use(code)
    [used] = await code_used_events(platform, servers, nats_namespace)
    assert (used.member_id, used.code_suffix) == ("m1", suffix)
