"""The ledger's use cases in one object: plain postings, reversals and holds."""

from services.ledger.holds import Holds
from services.ledger.reversals import Reversals


class Ledger(Reversals, Holds):
    """Earn, redeem, adjust, transfer (operations.py), reverse (reversals.py), holds (holds.py)."""
