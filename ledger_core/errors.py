"""Typed errors of ledger_core: each names what was wrong so a service can answer precisely.

Every error derives from `LedgerCoreError`; the subclasses carry structured fields (the rule, the
argument, the transaction index) besides the message, so an error interceptor can map them to a
status code with the offending field named.
"""


class LedgerCoreError(Exception):
    """Base of every error ledger_core raises on bad input."""


class RuleError(LedgerCoreError):
    """An earning rule cannot be compiled: `field` of rule `rule_id` is invalid."""

    def __init__(self, rule_id: str, field: str, message: str) -> None:
        super().__init__(f"rule {rule_id!r}, field {field!r}: {message}")
        self.rule_id = rule_id
        self.field = field
        self.message = message


class RuleSetError(LedgerCoreError):
    """A rule set cannot be compiled: its own `field` (not one rule's) is invalid."""

    def __init__(self, rule_set_id: str, field: str, message: str) -> None:
        super().__init__(f"rule set {rule_set_id!r}, field {field!r}: {message}")
        self.rule_set_id = rule_set_id
        self.field = field
        self.message = message


class InputError(LedgerCoreError):
    """A whole argument of a kernel call is invalid (shape, length, dtype, a value out of range)."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument
        self.message = message


class TransactionError(LedgerCoreError):
    """One transaction of a batch has an invalid `field`; nothing of the batch was accrued."""

    def __init__(self, transaction_index: int, field: str, message: str) -> None:
        super().__init__(f"transaction {transaction_index}, field {field!r}: {message}")
        self.transaction_index = transaction_index
        self.field = field
        self.message = message


class AccrualOverflowError(LedgerCoreError):
    """Points of transaction `transaction_index` do not fit in int64; nothing was accrued."""

    def __init__(self, transaction_index: int) -> None:
        super().__init__(f"transaction {transaction_index}: points overflow int64")
        self.transaction_index = transaction_index


class AllocationError(LedgerCoreError):
    """One burn request or lot is invalid; `field` names the column, `index` the row."""

    def __init__(self, field: str, index: int, message: str) -> None:
        super().__init__(f"{field}[{index}]: {message}")
        self.field = field
        self.index = index
        self.message = message
