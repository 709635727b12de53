"""Rule management: create, version, activate, archive, read and list rules."""

import uuid

import grpc

from loyalty.campaign.v1 import campaign_pb2, rules_pb2
from services.campaign import repository_rules as store
from services.campaign import repository_tiers, rules, targeting, tier_codes
from services.campaign.errors import RuleArchived, RuleExists, RuleNotFound, RuleVersionConflict
from services.campaign.ledger_client import ProgramSettings
from services.campaign.repository_rules import ACTIVE, ARCHIVED, DRAFT, SUPERSEDED, StoredRule
from services.campaign.rpc_base import RpcBase, now
from services.shared import validation
from services.shared.errors import FailedPrecondition, InvalidArgument
from services.shared.idempotency import once
from services.shared.paging import decode_page_token, encode_page_token

RULES_PAGE_SIZE_MAX = 200
# The cursor of ListRules: the last rule's priority, id and version (priority and version are
# integer columns, so a number past 32 bits is forged).
RULE_KEYS = ("priority", "rule_id", "version")
RULE_TYPES = {"priority": int, "rule_id": str, "version": int}


class RuleRpcs(RpcBase):
    async def _checked(self, program_id: str, rule: rules_pb2.Rule) -> tuple[str, ProgramSettings]:
        """Validate the rule; an earning rule is compiled too, so the kernel's refusal shows now."""
        kind = rules.check_rule(rule)
        program = await self.ledger.program(program_id)
        await targeting.check_segments_exist(
            self.pool, program_id, rule.segment_ids, field="rule.segment_ids"
        )
        if kind == rules.EARNING:
            spend = rule.earning.minimum_spend
            if rule.earning.HasField("minimum_spend") and spend.currency != program.currency:
                raise InvalidArgument(
                    "rule.earning.minimum_spend.currency",
                    f"must be the program's currency {program.currency}",
                )
            rules.check_tier_codes(rule, await self.ledger.tier_codes(program_id))
            self.compile(program, rule, strict=True)
        return kind, program

    async def CreateRule(
        self, request: campaign_pb2.CreateRuleRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.CreateRuleResponse:
        validation.program_id(request.program_id)
        rule = rules_pb2.Rule()
        rule.CopyFrom(request.rule)
        rule.rule_id = rule.rule_id or uuid.uuid4().hex[:16]
        validation.code(rule.rule_id, "rule.rule_id")
        rule.program_id, rule.version = request.program_id, 1
        kind, _ = await self._checked(request.program_id, rule)

        async with self.pool.acquire() as connection, connection.transaction():

            async def create() -> campaign_pb2.CreateRuleResponse:
                stored = await store.insert_version(connection, request.program_id, rule, kind=kind)
                if stored is None:
                    raise RuleExists(rule.rule_id)
                return campaign_pb2.CreateRuleResponse(rule=stored.rule)

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="CreateRule",
                request=request,
                response_type=campaign_pb2.CreateRuleResponse,
                work=create,
            )

    async def UpdateRule(
        self, request: campaign_pb2.UpdateRuleRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.UpdateRuleResponse:
        validation.program_id(request.program_id)
        validation.code(request.rule.rule_id, "rule.rule_id")
        validation.in_range(request.base_version, "base_version", low=1, high=2**31 - 1)

        async with self.pool.acquire() as connection, connection.transaction():

            async def update() -> campaign_pb2.UpdateRuleResponse:
                history = await self._history(connection, request.program_id, request.rule.rule_id)
                latest = history[-1].rule
                if any(version.status == ARCHIVED for version in history):
                    raise RuleArchived(latest.rule_id)
                if request.base_version != latest.version:
                    raise RuleVersionConflict(latest.rule_id, request.base_version, latest.version)
                rule = rules_pb2.Rule()
                rule.CopyFrom(request.rule)
                rule.program_id, rule.version = request.program_id, latest.version + 1
                kind, _ = await self._checked(request.program_id, rule)
                if kind != ("earning" if latest.HasField("earning") else "engagement"):
                    raise InvalidArgument("rule.kind", "a rule keeps its kind across versions")
                stored = await store.insert_version(connection, request.program_id, rule, kind=kind)
                assert stored is not None, "the versions are locked"
                return campaign_pb2.UpdateRuleResponse(rule=stored.rule)

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="UpdateRule",
                request=request,
                response_type=campaign_pb2.UpdateRuleResponse,
                work=update,
            )

    async def ActivateRule(
        self, request: campaign_pb2.ActivateRuleRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.ActivateRuleResponse:
        validation.program_id(request.program_id)
        validation.code(request.rule_id, "rule_id")
        validation.in_range(request.version, "version", low=1, high=2**31 - 1)

        async with self.pool.acquire() as connection, connection.transaction():

            async def activate() -> campaign_pb2.ActivateRuleResponse:
                history = await self._history(connection, request.program_id, request.rule_id)
                chosen = next((v for v in history if v.rule.version == request.version), None)
                if chosen is None:
                    raise RuleNotFound(request.rule_id, request.version, field="version")
                if any(version.status == ARCHIVED for version in history):
                    raise RuleArchived(request.rule_id)
                if chosen.status not in (DRAFT, ACTIVE):
                    raise FailedPrecondition(
                        f"version {request.version} was superseded; update the rule instead",
                        field="version",
                    )
                if chosen.status == DRAFT:
                    for version in history:
                        if version.status == ACTIVE:
                            await store.set_status(
                                connection,
                                request.program_id,
                                request.rule_id,
                                version.rule.version,
                                SUPERSEDED,
                            )
                    await store.set_status(
                        connection,
                        request.program_id,
                        request.rule_id,
                        request.version,
                        ACTIVE,
                        activated_at=now(),
                    )
                stored = await store.fetch_version(
                    connection, request.program_id, request.rule_id, request.version
                )
                assert stored is not None
                return campaign_pb2.ActivateRuleResponse(rule=stored.rule)

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="ActivateRule",
                request=request,
                response_type=campaign_pb2.ActivateRuleResponse,
                work=activate,
            )

    async def ArchiveRule(
        self, request: campaign_pb2.ArchiveRuleRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.ArchiveRuleResponse:
        validation.program_id(request.program_id)
        validation.code(request.rule_id, "rule_id")

        async with self.pool.acquire() as connection, connection.transaction():

            async def archive() -> campaign_pb2.ArchiveRuleResponse:
                history = await self._history(connection, request.program_id, request.rule_id)
                for version in history:
                    if version.status in (DRAFT, ACTIVE):
                        await store.set_status(
                            connection,
                            request.program_id,
                            request.rule_id,
                            version.rule.version,
                            ARCHIVED,
                        )
                latest = history[-1].rule.version
                if history[-1].status == SUPERSEDED:
                    # The latest version shows the rule's state.
                    await store.set_status(
                        connection, request.program_id, request.rule_id, latest, ARCHIVED
                    )
                stored = await store.fetch_version(
                    connection, request.program_id, request.rule_id, latest
                )
                assert stored is not None
                return campaign_pb2.ArchiveRuleResponse(rule=stored.rule)

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="ArchiveRule",
                request=request,
                response_type=campaign_pb2.ArchiveRuleResponse,
                work=archive,
            )

    async def GetRule(
        self, request: campaign_pb2.GetRuleRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.GetRuleResponse:
        validation.program_id(request.program_id)
        validation.code(request.rule_id, "rule_id")
        validation.in_range(request.version, "version", low=0, high=2**31 - 1)
        history = await store.versions(self.pool, request.program_id, request.rule_id)
        if not history:
            raise RuleNotFound(request.rule_id)
        if request.version:
            chosen = next((v for v in history if v.rule.version == request.version), None)
            if chosen is None:
                raise RuleNotFound(request.rule_id, request.version, field="version")
        else:
            chosen = next((v for v in history if v.status == ACTIVE), history[-1])
        return campaign_pb2.GetRuleResponse(rule=chosen.rule)

    async def ListRules(
        self, request: campaign_pb2.ListRulesRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.ListRulesResponse:
        validation.program_id(request.program_id)
        if request.status not in rules_pb2.RuleStatus.values():
            raise InvalidArgument("status", "is not a known rule status")
        size = validation.page_size(request.page_size, maximum=RULES_PAGE_SIZE_MAX)
        cursor = decode_page_token(request.page_token, keys=RULE_KEYS, types=RULE_TYPES)
        if cursor and not all(
            -validation.INT32_MAX - 1 <= cursor[key] <= validation.INT32_MAX
            for key in ("priority", "version")
        ):
            raise InvalidArgument("page_token", "is not a token this service issued")
        after = (cursor["priority"], cursor["rule_id"], cursor["version"]) if cursor else None
        tiers = None
        if request.undefined_tier_codes_only:
            tiers = await repository_tiers.fetch_tiers(self.pool, request.program_id)
            if tiers is None:  # the ledger announced no tiers: nothing to compare with
                return campaign_pb2.ListRulesResponse()
        found: list[StoredRule] = []
        # With the filter, read on until a page is full: the rules it keeps are few.
        while len(found) <= size:
            batch = await store.list_rules(
                self.pool,
                request.program_id,
                status=request.status,
                all_versions=request.all_versions,
                after=after,
                limit=size + 1,
            )
            found += [
                stored
                for stored in batch
                if tiers is None or tier_codes.rule_undefined_codes(stored.rule, tiers)
            ]
            if len(batch) <= size:
                break
            last_read = batch[-1].rule
            after = (last_read.priority, last_read.rule_id, last_read.version)
        page = found[:size]
        token = ""
        if len(found) > size:
            last = page[-1].rule
            token = encode_page_token(
                {"priority": last.priority, "rule_id": last.rule_id, "version": last.version}
            )
        return campaign_pb2.ListRulesResponse(
            rules=[stored.rule for stored in page], next_page_token=token
        )

    async def _history(self, connection, program_id: str, rule_id: str) -> list[StoredRule]:  # type: ignore[no-untyped-def]
        history = await store.versions(connection, program_id, rule_id, lock=True)
        if not history:
            raise RuleNotFound(rule_id)
        return history
