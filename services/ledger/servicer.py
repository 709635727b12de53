"""LedgerService: proto ⇄ domain translation around transactions, one part per module:
programs and tiers, postings, holds, reads, and the program-wide calls (rpc_*.py)."""

from loyalty.ledger.v1 import ledger_pb2_grpc
from services.ledger.rpc_base import BATCH_SIZE_MAX, Clock, utc_now
from services.ledger.rpc_bulk import BulkRpcs
from services.ledger.rpc_exports import ExportRpcs
from services.ledger.rpc_holds import HoldRpcs
from services.ledger.rpc_postings import PostingRpcs
from services.ledger.rpc_programs import ProgramRpcs
from services.ledger.rpc_reads import ReadRpcs
from services.ledger.rpc_recorded import RecordedAnswerRpcs

__all__ = ["BATCH_SIZE_MAX", "Clock", "LedgerServicer", "utc_now"]


class LedgerServicer(
    ProgramRpcs,
    PostingRpcs,
    HoldRpcs,
    ReadRpcs,
    RecordedAnswerRpcs,
    BulkRpcs,
    ExportRpcs,
    ledger_pb2_grpc.LedgerServiceServicer,
):
    """The whole LedgerService; each part is a mixin of LedgerRpcBase."""
