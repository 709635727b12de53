"""Program-wide reads for exports (the operator CLI): every account, every posting, in pages."""

import grpc

from loyalty.ledger.v1 import ledger_pb2
from services.ledger import convert, exports
from services.ledger.rpc_base import LedgerRpcBase, utc_now
from services.shared import validation
from services.shared.paging import decode_page_token, encode_page_token

EXPORT_PAGE_SIZE_MAX = 5_000


class ExportRpcs(LedgerRpcBase):
    async def ListAccounts(
        self, request: ledger_pb2.ListAccountsRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.ListAccountsResponse:
        validation.program_id(request.program_id)
        size = validation.page_size(request.page_size, default=1_000, maximum=EXPORT_PAGE_SIZE_MAX)
        cursor = decode_page_token(request.page_token, keys=("after",), types={"after": str})
        program = await self.programs.get(self.pool, request.program_id)
        accounts = await exports.accounts_page(
            self.pool,
            request.program_id,
            after_member_id=cursor["after"] if cursor else "",
            limit=size + 1,
        )
        now = utc_now()
        balances = [
            convert.balance(program, account, expiring_points=None, next_expiry=None, now=now)
            for account in accounts[:size]
        ]
        return ledger_pb2.ListAccountsResponse(
            balances=balances,
            next_page_token=(
                encode_page_token({"after": accounts[size - 1].member_id})
                if len(accounts) > size
                else ""
            ),
        )

    async def ListPostings(
        self, request: ledger_pb2.ListPostingsRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.ListPostingsResponse:
        validation.program_id(request.program_id)
        size = validation.page_size(request.page_size, default=1_000, maximum=EXPORT_PAGE_SIZE_MAX)
        cursor = decode_page_token(
            request.page_token, keys=("member", "posting"), types={"member": str, "posting": int}
        )
        await self.programs.get(self.pool, request.program_id)
        postings = await exports.postings_page(
            self.pool,
            request.program_id,
            after=(cursor["member"], int(cursor["posting"])) if cursor else ("", 0),
            limit=size + 1,
        )
        token = ""
        if len(postings) > size:
            last = postings[size - 1]
            token = encode_page_token({"member": last.member_id, "posting": last.posting_id})
        return ledger_pb2.ListPostingsResponse(
            postings=[convert.posting(p) for p in postings[:size]], next_page_token=token
        )
