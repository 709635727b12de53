"""What the parts of IdentityServicer share: connections, settings and small helpers."""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from loyalty.events.v1 import events_pb2
from loyalty.identity.v1 import identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2_grpc
from services.identity import domain, members, repository, repository_credentials, tokens
from services.identity import repository_members as member_store
from services.identity.errors import (
    InvalidToken,
    MemberClosed,
    MemberNotFound,
    ProgramNotFound,
)
from services.identity.members import MemberView, StoredMember
from services.shared.errors import InvalidArgument
from services.shared.idempotency import LOCAL_FORGOTTEN_KEY_SECRET, Forgetting
from services.shared.outbox import Outbox

MEMBER_ID_LENGTH_MAX = 64


@dataclass(frozen=True, kw_only=True)
class Settings:
    # How far a till's or gateway's clock may be off when checking a token's times.
    token_clock_skew_s: float = 5.0
    # How long after a till scanned a QR token (offline) its transaction may be posted with it:
    # the token is checked at the scan's time, at most this long ago.
    qr_token_offline_age_max_s: float = 72 * 3600.0
    # How an erasure keeps the idempotency keys of the member's changes (IDENTITY_FORGOTTEN_KEY_*).
    forgetting: Forgetting = field(
        default_factory=lambda: Forgetting(LOCAL_FORGOTTEN_KEY_SECRET.encode())
    )


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def is_member_id(value: str) -> bool:
    """Whether `value` could be a member id: printable (no NUL, which PostgreSQL's text cannot
    hold), untrimmed, at most MEMBER_ID_LENGTH_MAX characters."""
    return 0 < len(value) <= MEMBER_ID_LENGTH_MAX and value.isprintable() and value.strip() == value


def check_member_id(value: str, field: str = "member_id") -> str:
    if not value:
        raise InvalidArgument(field, "is required")
    if not is_member_id(value):
        raise InvalidArgument(
            field, f"must be a member id of at most {MEMBER_ID_LENGTH_MAX} characters"
        )
    return value


class RpcBase(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        *,
        ledger: ledger_pb2_grpc.LedgerServiceStub | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.pool = pool
        self.outbox = outbox
        self.ledger = ledger
        self.settings = settings or Settings()

    async def emit(
        self, connection: asyncpg.Connection, subject: str, program_id: str, **payload: Any
    ) -> None:
        await self.outbox.enqueue(
            connection, subject, events_pb2.Event(program_id=program_id, **payload)
        )

    async def program(
        self, connection: asyncpg.Connection | asyncpg.Pool, program_id: str
    ) -> domain.Program:
        stored = await repository.fetch_program(connection, program_id)
        if stored is None:
            raise ProgramNotFound(program_id)
        return stored.program

    async def member(
        self,
        connection: asyncpg.Connection | asyncpg.Pool,
        program_id: str,
        member_id: str,
        *,
        field: str = "member_id",
        for_update: bool = False,
    ) -> StoredMember:
        member = await member_store.fetch_member(
            connection, program_id, member_id, for_update=for_update
        )
        if member is None:
            raise MemberNotFound(member_id, field)
        return member

    async def open_member(
        self,
        connection: asyncpg.Connection,
        program_id: str,
        member_id: str,
        field: str = "member_id",
    ) -> StoredMember:
        """The member, locked for a change; FAILED_PRECONDITION if merged or erased."""
        member = await self.member(connection, program_id, member_id, field=field, for_update=True)
        if member.status in members.CLOSED_STATUSES:
            survivor = member.merged_into_member_id if member.status == members.MERGED else ""
            raise MemberClosed(member_id, member.status, field, survivor_member_id=survivor)
        return member

    async def view(
        self, connection: asyncpg.Connection | asyncpg.Pool, program_id: str, member_id: str
    ) -> MemberView:
        [view] = await member_store.views(
            connection, [await self.member(connection, program_id, member_id)]
        )
        return view

    async def verify_token(
        self,
        connection: asyncpg.Connection | asyncpg.Pool,
        *,
        purpose: str,
        program_id: str,
        token: str,
        at: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """The claims of a token of this program, checked at `at` (default now); InvalidToken
        when it does not verify."""
        key_id = tokens.key_id_of(token)
        key = await repository_credentials.fetch_signing_key(connection, program_id, key_id)
        if key is None or key.purpose != purpose:
            raise InvalidToken("was not signed by a key of this program")
        return tokens.verify(
            token, key, at=at or now(), clock_skew_s=self.settings.token_clock_skew_s
        )

    async def signing_key(self, program_id: str, purpose: str) -> tokens.SigningKey:
        """The program's active key for the purpose, made on first use."""
        key = await repository_credentials.fetch_active_key(self.pool, program_id, purpose)
        if key is not None:
            return key
        await self.program(self.pool, program_id)
        fresh = tokens.new_signing_key(program_id=program_id, purpose=purpose, now=now())
        await repository_credentials.insert_active_key(self.pool, fresh)
        key = await repository_credentials.fetch_active_key(self.pool, program_id, purpose)
        assert key is not None
        return key

    async def current_member(
        self, connection: asyncpg.Connection | asyncpg.Pool, program_id: str, member_id: str
    ) -> StoredMember | None:
        """The member, or the survivor it was merged into (merges keep chains one step long)."""
        member = await member_store.fetch_member(connection, program_id, member_id)
        if member is not None and member.status == members.MERGED:
            return await member_store.fetch_member(
                connection, program_id, member.merged_into_member_id
            )
        return member

    async def housekeeping(self) -> list[str]:
        """One round of background work; the parts that have some override it and call super.
        Returns what the round could not do (services/identity/housekeeping.py)."""
        return []
