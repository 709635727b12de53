"""What `make run` prints about the demo (deploy/local/demo.py) holds: the purchase it offers to
try works as printed, on every run, and earns the demo member's tier its extra beans."""

import asyncio
import json
import subprocess
import time

from deploy.local import demo
from tests.gateway.conftest import PROGRAM, GatewayPlatform

TIER_WAIT_S = 60


def _run_printed(command: str) -> dict[str, object]:
    """The command as a newcomer pastes it into a shell."""
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True)
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def _silver_preview(platform: GatewayPlatform, member_id: str) -> int:
    """The beans of a EUR 12.50 basket for the member, once campaign has followed the ledger's
    tier change (an event) and the member earns as Silver; what it earns meanwhile otherwise."""
    basket = {"amount": {"amount_minor": 1250, "currency": "EUR"}, "channel": "pos"}
    deadline = time.monotonic() + TIER_WAIT_S
    with platform.client(key="admin") as client:
        while True:
            response = client.post(
                f"/v1/programs/{PROGRAM}/members/{member_id}/basket-preview", json=basket
            )
            assert response.status_code == 200, response.text
            points = int(response.json()["points"])
            if points != 125 or time.monotonic() > deadline:
                return points
            time.sleep(0.2)


def test_the_printed_purchase_earns_the_tier_multiplier_on_every_run(
    gateway_platform: GatewayPlatform,
) -> None:
    endpoints = gateway_platform.cluster.endpoints
    program = asyncio.run(demo.load_demo_program(endpoints))  # as every `make run` loads it
    assert program["earning"] == "10 beans per euro; Silver x1.25, Gold x1.5"
    printed = asyncio.run(demo.load_demo_member(endpoints, gateway_platform.url))
    member_id = gateway_platform.demo_member_id
    # The demo member is Silver (1,900 qualifying beans): 10 beans per euro, 25% more.
    assert _silver_preview(gateway_platform, member_id) == 156
    first = _run_printed(printed["try the API"])
    assert (first["member_id"], first["points"], first["duplicate"]) == (member_id, 156, False)
    rules: list[dict[str, object]] = first["rules"]  # type: ignore[assignment]
    assert [rule["name"] for rule in rules] == [demo.BASE_EARNING_RULE.name]
    # Pasted again: a retry under the same Idempotency-Key, answered as the first time.
    assert _run_printed(printed["try the API"]) == first

    # The next `make run` prints a purchase of its own, which earns again rather than being
    # taken for the first one's duplicate.
    again = asyncio.run(demo.load_demo_member(endpoints, gateway_platform.url))
    assert again["try the API"] != printed["try the API"]
    second = _run_printed(again["try the API"])
    assert (second["points"], second["duplicate"]) == (156, False)
