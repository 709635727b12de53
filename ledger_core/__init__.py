"""Kernels for bulk point accrual, tier evaluation and FIFO lot allocation; no I/O.

Services import this facade only. The stacking order of earning rules is documented in
ledger_core.rules; `ledger_core.reference` holds a plain-Python version of each kernel.
"""

from ledger_core.accrual import accrue
from ledger_core.batches import (
    Accrual,
    AccrualBuffers,
    TransactionBatch,
    new_accrual_buffers,
    new_cap_counters,
)
from ledger_core.errors import (
    AccrualOverflowError,
    AllocationError,
    InputError,
    LedgerCoreError,
    RuleError,
    RuleSetError,
    TransactionError,
)
from ledger_core.fifo import BurnRequests, FifoAllocation, LotBook, allocate_fifo
from ledger_core.periods import period_keys
from ledger_core.rules import (
    CompiledRuleSet,
    Conditions,
    EarningRule,
    RoundingMode,
    RuleKind,
    RuleSet,
    TimeWindow,
    compile_rules,
)
from ledger_core.tiers import TierEvaluation, TierPolicy, evaluate_tiers
from ledger_core.time_zones import OffsetTable, offset_table

__all__ = [
    "Accrual",
    "AccrualBuffers",
    "AccrualOverflowError",
    "AllocationError",
    "BurnRequests",
    "CompiledRuleSet",
    "Conditions",
    "EarningRule",
    "FifoAllocation",
    "InputError",
    "LedgerCoreError",
    "LotBook",
    "OffsetTable",
    "RoundingMode",
    "RuleError",
    "RuleKind",
    "RuleSet",
    "RuleSetError",
    "TierEvaluation",
    "TierPolicy",
    "TimeWindow",
    "TransactionBatch",
    "TransactionError",
    "accrue",
    "allocate_fifo",
    "compile_rules",
    "evaluate_tiers",
    "new_accrual_buffers",
    "new_cap_counters",
    "offset_table",
    "period_keys",
]
