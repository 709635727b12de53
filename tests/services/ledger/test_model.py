"""A stateful property test: random sequences of ledger operations against an in-memory model.

Hypothesis drives earn, redeem, hold, commit, void, refund, expire and transfer on a real ledger
process (real PostgreSQL); after every step the balances must equal the model's, the program must
sum to zero, lots must sum to the balances, and verify must find no difference.
"""

import asyncio
import datetime as dt
import itertools
import secrets
import uuid
from dataclasses import dataclass, field
from fractions import Fraction

import asyncpg
import grpc
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from deploy.local.cluster import LocalCluster, free_endpoints
from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from tests.conftest import ARTIFACTS, RUN_ID, Servers, with_database
from tests.services.ledger.support import ts
from tests.services.ledger.test_programs import TIERS, program_config

MEMBERS = ("ann", "bob", "cat")
POINTS = st.integers(min_value=1, max_value=500)


def half_even(value: Fraction) -> int:
    floor = value.numerator // value.denominator
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2):
        return floor + 1
    return floor


@dataclass
class MemberModel:
    available: int = 0
    held: int = 0
    debt: int = 0


@dataclass
class Purchase:
    member: str
    points: int
    amount_minor: int
    refunded_minor: int = 0
    reversed_points: int = 0


@dataclass
class Model:
    members: dict[str, MemberModel] = field(
        default_factory=lambda: {m: MemberModel() for m in MEMBERS}
    )
    holds: dict[str, tuple[str, int]] = field(default_factory=dict)
    purchases: dict[str, Purchase] = field(default_factory=dict)

    def credit(self, member: str, points: int, *, expires_at_once: bool = False) -> None:
        account = self.members[member]
        repaid = min(account.debt, points)
        account.debt -= repaid
        if not expires_at_once:
            account.available += points - repaid

    def take_back(self, member: str, points: int) -> None:
        account = self.members[member]
        taken = min(account.available, points)
        account.available -= taken
        account.debt += points - taken


@pytest.fixture(scope="module")
def ledger_process(servers: Servers):
    database = f"loyalty_t{RUN_ID}_model"

    async def create() -> None:
        connection = await asyncpg.connect(servers.database_url)
        try:
            await connection.execute(f'CREATE DATABASE "{database}"')
        finally:
            await connection.close()

    asyncio.run(create())
    cluster = LocalCluster(
        database_url=with_database(servers.database_url, database),
        nats_url=servers.nats_url,
        namespace=f"t{RUN_ID}_model",
        endpoints=free_endpoints(),
        log_dir=ARTIFACTS / "logs" / f"ledger-model-{uuid.uuid4().hex[:6]}",
        extra_env={"LEDGER_JOBS_ENABLED": "false"},
    )
    cluster.start("ledger")
    channel = grpc.insecure_channel(cluster.endpoints["ledger"].grpc_address)
    yield ledger_pb2_grpc.LedgerServiceStub(channel)
    channel.close()
    cluster.stop()

    async def drop() -> None:
        connection = await asyncpg.connect(servers.database_url)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())


def test_the_ledger_matches_a_simple_model(ledger_process) -> None:
    stub = ledger_process
    programs = itertools.count()

    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.program = f"model-{secrets.token_hex(3)}-{next(programs)}"
            self.model = Model()
            self.keys = itertools.count()
            stub.ConfigureProgram(
                ledger_pb2.ConfigureProgramRequest(
                    program_id=self.program,
                    idempotency_key="c",
                    config=program_config(self.program),
                )
            )
            stub.SetTierDefinitions(
                ledger_pb2.SetTierDefinitionsRequest(
                    program_id=self.program, idempotency_key="t", tiers=TIERS
                )
            )

        def key(self) -> str:
            return f"k{next(self.keys)}"

        def refused(self, call, request) -> bool:
            try:
                call(request)
            except grpc.RpcError as error:
                assert error.code() in (
                    grpc.StatusCode.FAILED_PRECONDITION,
                    grpc.StatusCode.NOT_FOUND,
                ), error
                return True
            return False

        @rule(member=st.sampled_from(MEMBERS), points=POINTS, amount=st.integers(1, 100_000))
        def earn(self, member: str, points: int, amount: int) -> None:
            reference = f"order-{next(self.keys)}"
            past = ts(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            stub.Earn(
                ledger_pb2.EarnRequest(
                    program_id=self.program,
                    idempotency_key=self.key(),
                    member_id=member,
                    points=points,
                    source_reference=reference,
                    vests_at=past,
                )
            )
            self.model.credit(member, points)
            self.model.purchases[reference] = Purchase(member, points, amount)

        @rule(member=st.sampled_from(MEMBERS), points=POINTS)
        def earn_already_expired(self, member: str, points: int) -> None:
            past = ts(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            stub.Earn(
                ledger_pb2.EarnRequest(
                    program_id=self.program,
                    idempotency_key=self.key(),
                    member_id=member,
                    points=points,
                    vests_at=past,
                    expires_at=past,
                )
            )
            self.model.credit(member, points, expires_at_once=True)

        @rule(member=st.sampled_from(MEMBERS), points=POINTS)
        def redeem(self, member: str, points: int) -> None:
            request = ledger_pb2.RedeemRequest(
                program_id=self.program, idempotency_key=self.key(), member_id=member, points=points
            )
            account = self.model.members[member]
            refused = self.refused(stub.Redeem, request)
            assert refused == (points > account.available or self.unknown(member))
            if not refused:
                account.available -= points

        def unknown(self, member: str) -> bool:
            try:
                stub.GetBalance(
                    ledger_pb2.GetBalanceRequest(program_id=self.program, member_id=member)
                )
            except grpc.RpcError:
                return True
            return False

        @rule(member=st.sampled_from(MEMBERS), points=POINTS)
        def hold(self, member: str, points: int) -> None:
            account = self.model.members[member]
            try:
                placed = stub.PlaceHold(
                    ledger_pb2.PlaceHoldRequest(
                        program_id=self.program,
                        idempotency_key=self.key(),
                        member_id=member,
                        points=points,
                    )
                )
            except grpc.RpcError as error:
                assert error.code() in (
                    grpc.StatusCode.FAILED_PRECONDITION,
                    grpc.StatusCode.NOT_FOUND,
                )
                assert points > account.available or self.unknown(member)
                return
            account.available -= points
            account.held += points
            self.model.holds[placed.hold.hold_id] = (member, points)

        @precondition(lambda self: self.model.holds)
        @rule(data=st.data(), commit=st.booleans())
        def close_hold(self, data: st.DataObject, commit: bool) -> None:
            hold_id = data.draw(st.sampled_from(sorted(self.model.holds)))
            member, points = self.model.holds.pop(hold_id)
            account = self.model.members[member]
            if commit:
                stub.CommitHold(
                    ledger_pb2.CommitHoldRequest(
                        program_id=self.program, idempotency_key=self.key(), hold_id=hold_id
                    )
                )
            else:
                stub.VoidHold(
                    ledger_pb2.VoidHoldRequest(
                        program_id=self.program, idempotency_key=self.key(), hold_id=hold_id
                    )
                )
                # The points come back paying any debt first (a refund that found them held).
                self.model.credit(member, points)
            account.held -= points

        @precondition(lambda self: self.model.purchases)
        @rule(data=st.data(), share=st.fractions(min_value=Fraction(1, 10), max_value=1))
        def refund(self, data: st.DataObject, share: Fraction) -> None:
            reference = data.draw(st.sampled_from(sorted(self.model.purchases)))
            purchase = self.model.purchases[reference]
            left = purchase.amount_minor - purchase.refunded_minor
            # Nothing left to refund: one more cent must be refused.
            refunded = min(left, max(1, int(purchase.amount_minor * share))) if left else 1
            request = ledger_pb2.ReverseRequest(
                program_id=self.program,
                idempotency_key=self.key(),
                member_id=purchase.member,
                refund=ledger_pb2.PurchaseRefund(
                    original_reference=reference,
                    refunded_amount=common_pb2.Money(amount_minor=refunded, currency="EUR"),
                    original_amount=common_pb2.Money(
                        amount_minor=purchase.amount_minor, currency="EUR"
                    ),
                ),
            )
            if left == 0:
                assert self.refused(stub.Reverse, request)
                return
            response = stub.Reverse(request)
            purchase.refunded_minor += refunded
            target = half_even(
                Fraction(purchase.points * purchase.refunded_minor, purchase.amount_minor)
            )
            expected = target - purchase.reversed_points
            purchase.reversed_points = target
            assert response.reversed_points == expected
            self.model.take_back(purchase.member, expected)

        @rule(giver=st.sampled_from(MEMBERS), receiver=st.sampled_from(MEMBERS), points=POINTS)
        def transfer(self, giver: str, receiver: str, points: int) -> None:
            if giver == receiver:
                return
            request = ledger_pb2.TransferPointsRequest(
                program_id=self.program,
                idempotency_key=self.key(),
                source_member_id=giver,
                target_member_id=receiver,
                points=points,
            )
            refused = self.refused(stub.TransferPoints, request)
            assert refused == (points > self.model.members[giver].available or self.unknown(giver))
            if not refused:
                self.model.members[giver].available -= points
                self.model.credit(receiver, points)

        @invariant()
        def balances_match_the_model_and_the_books_balance(self) -> None:
            for member, expected in self.model.members.items():
                try:
                    balance = stub.GetBalance(
                        ledger_pb2.GetBalanceRequest(program_id=self.program, member_id=member)
                    ).balance
                except grpc.RpcError as error:
                    assert error.code() == grpc.StatusCode.NOT_FOUND
                    assert expected == MemberModel()
                    continue
                assert (balance.available_points, balance.held_points, balance.debt_points) == (
                    expected.available,
                    expected.held,
                    expected.debt,
                ), member
            result = stub.Verify(ledger_pb2.VerifyRequest(program_id=self.program))
            assert list(result.differences) == [] and result.program_sum_points == 0

    LedgerMachine.TestCase.settings = settings(
        max_examples=15,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    LedgerMachine.TestCase().runTest()
