"""The accrual kernel releases the GIL: another Python thread runs while a batch is accrued."""

import sys
import threading
import time
from typing import Any

import numpy as np
from ledger_core_builders import WEDNESDAY_NOON, batch, multiplier, rate, rule_set

from ledger_core import _accrual, compile_rules
from ledger_core.batches import batch_columns, new_cap_counters
from ledger_core.time_zones import offset_table

# Big enough that the kernel runs for a good while (about 0.1 s or more on a 2-core machine).
TRANSACTIONS = 4_000_000
MEMBERS = 100_000
# Long enough that the interpreter never takes the GIL from a thread that holds it: the other
# thread can then only run when this one releases the GIL.
SWITCH_INTERVAL_SECONDS = 1_000.0


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.started = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        self.started.set()
        while not self.stop.is_set():
            self.count += 1
            time.sleep(0.0001)  # hands the GIL back at once when the kernel returns


def test_another_thread_counts_while_the_kernel_accrues() -> None:
    rng = np.random.default_rng(7)
    transactions = batch([0] * TRANSACTIONS)
    columns = batch_columns(transactions)
    columns["member_indexes"] = rng.integers(0, MEMBERS, TRANSACTIONS, dtype=np.int32)
    columns["amounts_minor"] = rng.integers(1, 10_000, TRANSACTIONS, dtype=np.int64)
    columns["categories"] = rng.integers(0, 10, TRANSACTIONS, dtype=np.int32)
    rules = compile_rules(
        rule_set(
            rate(),
            multiplier("shoes", 20_000, categories=frozenset({3})),
            points_max_per_member_month=5_000,
        )
    )
    table = offset_table(
        "Europe/Amsterdam", start_seconds=WEDNESDAY_NOON, end_seconds=WEDNESDAY_NOON
    )
    capacity = 2 * TRANSACTIONS + 64
    arguments: dict[str, Any] = {
        "transitions_seconds": table.transitions_seconds,
        "offsets_seconds": table.offsets_seconds,
        "table_end_seconds": table.end_seconds,
        **columns,
        "member_tiers": np.zeros(MEMBERS, dtype=np.int8),
        "cap_counters": new_cap_counters(MEMBERS).reshape(-1),
        "points": np.empty(TRANSACTIONS, dtype=np.int64),
        "attribution_counts": np.empty(TRANSACTIONS, dtype=np.uint8),
        "attribution_rule_indexes": np.empty(capacity, dtype=np.uint8),
        "attribution_points": np.empty(capacity, dtype=np.int64),
        "start_index": 0,
        "attribution_used": 0,
    }
    counter = Counter()
    thread = threading.Thread(target=counter.run)
    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    try:
        thread.start()
        counter.started.wait()
        before = counter.count
        status, done, _ = _accrual.accrue_columns(rules, **arguments)
        during = counter.count - before
    finally:
        counter.stop.set()
        thread.join()
        sys.setswitchinterval(previous_interval)
    assert (status, done) == (0, TRANSACTIONS)
    assert during > 0
