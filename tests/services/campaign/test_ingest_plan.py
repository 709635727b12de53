"""The plan an ingest batch stores between its two stages, in today's form and the earlier one
(a batch left in state 1 by an earlier version is finished by this one)."""

import json

from services.campaign.ingest import _plan_json, _plan_of


def test_a_plan_reads_back_as_it_was_written() -> None:
    returns = [{"index": 3, "member_id": "ann", "return_id": "r1", "original": "t1"}]
    plan = {"items": [0, 1, 2, 4, -1, -1], "returns": returns}
    stored = _plan_json(plan)
    assert "item_transactions" in json.loads(stored)
    assert _plan_of(stored) == plan


def test_a_plan_stored_with_items_as_numbers_still_reads() -> None:
    plan = {"items": [0, 2, -1], "returns": []}
    assert _plan_of(json.dumps(plan)) == plan
    assert _plan_of(None) == {}
