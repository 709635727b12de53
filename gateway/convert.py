"""Protobuf messages to the API's models and back; nothing else."""

import base64
import datetime as dt
from collections.abc import Iterable

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from gateway import models
from gateway.enums import (
    ActivityKind,
    ActivityOutcome,
    Channel,
    CodeStatus,
    ConsentChannel,
    IdentifierKind,
    IdentifierRemovalReason,
    MemberStatus,
    MissionProgressState,
    PostingKind,
    QualifyingBasis,
    RedemptionStatus,
    RewardKind,
    RewardStatus,
    TierChangeDirection,
    TierChangeReason,
    VerificationState,
    VestingState,
    from_proto,
    to_proto,
)
from loyalty.campaign.v1 import campaign_pb2, engagement_pb2, rules_pb2
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2
from loyalty.ledger.v1 import ledger_pb2
from loyalty.rewards.v1 import rewards_pb2


def instant(message: Message, field: str) -> dt.datetime | None:
    """A message's Timestamp field as an aware datetime; None when unset (not when it holds
    1970-01-01T00:00:00Z, a real instant)."""
    if not message.HasField(field):
        return None
    value: Timestamp = getattr(message, field)
    return value.ToDatetime(tzinfo=dt.UTC)


def timestamp(value: dt.datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    return stamp


def money_to_proto(value: models.Money) -> common_pb2.Money:
    return common_pb2.Money(amount_minor=value.amount_minor, currency=value.currency)


def money(value: common_pb2.Money) -> models.MoneyOut:
    return models.MoneyOut(amount_minor=value.amount_minor, currency=value.currency)


# -- programs and members -------------------------------------------------------------------------


def program(value: identity_pb2.Program) -> models.Program:
    return models.Program(
        program_id=value.program_id,
        name=value.name,
        points_name=value.points_name,
        currency=value.currency,
        time_zone=value.time_zone,
        entry_tier_code=value.entry_tier_code,
        default_locale=value.default_locale,
        create_time=instant(value, "create_time"),
        update_time=instant(value, "update_time"),
    )


def tier(value: ledger_pb2.TierDefinition) -> models.Tier:
    return models.Tier(
        code=value.code,
        name=value.name,
        rank=value.rank,
        threshold=value.threshold,
        benefits_text=value.benefits_text,
        multiplier_bps=value.multiplier_bps,
    )


def profile(value: identity_pb2.Profile) -> models.Profile:
    birthday = None
    if value.HasField("birthday") and value.birthday.month:
        birthday = dt.date(value.birthday.year or 2000, value.birthday.month, value.birthday.day)
    return models.Profile(
        given_name=value.given_name,
        family_name=value.family_name,
        birthday=birthday,
        locale=value.locale,
        home_store_id=value.home_store_id,
        preferences=dict(value.preferences),
    )


def profile_to_proto(value: models.ProfileInput) -> identity_pb2.Profile:
    result = identity_pb2.Profile(
        given_name=value.given_name,
        family_name=value.family_name,
        locale=value.locale,
        home_store_id=value.home_store_id,
        preferences=value.preferences,
    )
    if value.birthday is not None:
        result.birthday.CopyFrom(
            common_pb2.LocalDate(
                year=value.birthday.year, month=value.birthday.month, day=value.birthday.day
            )
        )
    return result


def identifier(value: identity_pb2.Identifier) -> models.Identifier:
    return models.Identifier(
        kind=from_proto(IdentifierKind, value.kind),
        value=value.value,
        provider=value.provider,
        verified=value.verified,
        added_at=instant(value, "added_at"),
    )


def blocked_identifier(value: identity_pb2.BlockedIdentifier) -> models.BlockedIdentifier:
    card = value.identifier
    return models.BlockedIdentifier(
        kind=from_proto(IdentifierKind, card.kind),
        value=card.value,
        provider=card.provider,
        verified=card.verified,
        added_at=instant(card, "added_at"),
        reason=from_proto(IdentifierRemovalReason, value.reason),
        blocked_at=instant(value, "blocked_at"),
    )


def identifier_to_proto(value: models.IdentifierInput) -> identity_pb2.Identifier:
    return identity_pb2.Identifier(
        kind=to_proto(value.kind),  # type: ignore[arg-type]
        value=value.value,
        provider=value.provider,
        verified=value.verified,
    )


def consent(value: identity_pb2.Consent) -> models.Consent:
    return models.Consent(
        channel=from_proto(ConsentChannel, value.channel),
        granted=value.granted,
        changed_at=instant(value, "changed_at"),
        source_channel=from_proto(Channel, value.source_channel),
    )


def member(value: identity_pb2.Member) -> models.Member:
    return models.Member(
        member_id=value.member_id,
        program_id=value.program_id,
        status=from_proto(MemberStatus, value.status),
        profile=profile(value.profile),
        identifiers=[identifier(i) for i in value.identifiers],
        blocked_identifiers=[blocked_identifier(b) for b in value.blocked_identifiers],
        consents=[consent(c) for c in value.consents],
        enrollment_channel=from_proto(Channel, value.enrollment_channel),
        enrollment_store_id=value.enrollment_store_id,
        referral_code=value.referral_code,
        referrer_member_id=value.referrer_member_id,
        merged_into_member_id=value.merged_into_member_id,
        enrolled_at=instant(value, "enrolled_at"),
        update_time=instant(value, "update_time"),
    )


# -- points ---------------------------------------------------------------------------------------


def balance(value: ledger_pb2.Balance) -> models.Balance:
    return models.Balance(
        member_id=value.member_id,
        available_points=value.available_points,
        pending_points=value.pending_points,
        held_points=value.held_points,
        lifetime_earned_points=value.lifetime_earned_points,
        debt_points=value.debt_points,
        tier_code=value.tier_code,
        qualifying_basis=from_proto(QualifyingBasis, value.qualifying_basis),
        qualifying_amount=value.qualifying_amount,
        next_tier_code=value.next_tier_code,
        to_next_tier_amount=value.to_next_tier_amount,
        expiring_30_days_points=value.expiring_30_days_points,
        next_expiry_at=instant(value, "next_expiry_at"),
        as_of=instant(value, "as_of"),
    )


def lot(value: ledger_pb2.Lot) -> models.Lot:
    return models.Lot(
        lot_id=value.lot_id,
        original_points=value.original_points,
        remaining_points=value.remaining_points,
        earned_at=instant(value, "earned_at"),
        vests_at=instant(value, "vests_at"),
        expires_at=instant(value, "expires_at"),
        vesting_state=from_proto(VestingState, value.vesting_state),
        source_reference=value.source_reference,
    )


def spend_allocation(value: ledger_pb2.SpendAllocation) -> models.SpendAllocation:
    return models.SpendAllocation(
        lot_id=value.lot_id,
        points=value.points,
        lot_expires_at=instant(value, "lot_expires_at"),
        lot_source_reference=value.lot_source_reference,
    )


def posting(value: ledger_pb2.Posting) -> models.Posting:
    return models.Posting(
        posting_id=value.posting_id,
        kind=from_proto(PostingKind, value.kind),
        points=value.points,
        source_reference=value.source_reference,
        reason_code=value.reason.code,
        reason_note=value.reason.note,
        rule_ids=list(value.reason.rule_ids),
        occurred_at=instant(value, "occurred_at"),
        posted_at=instant(value, "posted_at"),
        available_points_after=value.available_points_after,
    )


def tier_change(value: ledger_pb2.TierChange) -> models.TierChange:
    return models.TierChange(
        from_tier_code=value.from_tier_code,
        to_tier_code=value.to_tier_code,
        direction=from_proto(TierChangeDirection, value.direction),
        reason=from_proto(TierChangeReason, value.reason),
        qualifying_amount=value.qualifying_amount,
        changed_at=instant(value, "changed_at"),
    )


# -- transactions and activities ------------------------------------------------------------------


def line_items_to_proto(lines: Iterable[models.LineItem]) -> list[campaign_pb2.LineItem]:
    return [
        campaign_pb2.LineItem(
            sku=line.sku,
            category=line.category,
            amount=money_to_proto(line.amount),
            quantity=line.quantity,
        )
        for line in lines
    ]


def rule_applications(
    applications: Iterable[rules_pb2.RuleApplication],
) -> list[models.RuleApplication]:
    return [
        models.RuleApplication(
            rule_id=a.rule_id,
            version=a.version,
            name=a.name,
            points=a.points,
            explanation=a.explanation,
        )
        for a in applications
    ]


def purchase_to_proto(
    value: models.Purchase, *, program_id: str, member_id: str, idempotency_key: str
) -> campaign_pb2.RecordPurchaseRequest:
    return campaign_pb2.RecordPurchaseRequest(
        program_id=program_id,
        idempotency_key=idempotency_key,
        member_id=member_id,
        transaction_id=value.transaction_id,
        amount=money_to_proto(value.amount),
        line_items=line_items_to_proto(value.line_items),
        channel=to_proto(value.channel),  # type: ignore[arg-type]
        store_id=value.store_id,
        occurred_at=timestamp(value.occurred_at),
    )


def purchase_result(
    value: campaign_pb2.RecordPurchaseResponse, *, member_id: str
) -> models.PurchaseResult:
    accrual = value.accrual
    return models.PurchaseResult(
        member_id=member_id,
        points=accrual.points,
        rules=rule_applications(accrual.applications),
        posting_id=accrual.posting_id,
        vests_at=instant(accrual, "vests_at"),
        duplicate=value.duplicate,
    )


def return_result(
    value: campaign_pb2.RecordReturnResponse, *, member_id: str
) -> models.ReturnResult:
    return models.ReturnResult(
        member_id=member_id,
        reversed_points=value.reversed_points,
        debt_points=value.debt_points,
        posting_ids=list(value.posting_ids),
    )


def return_to_proto(
    value: models.Return, *, program_id: str, member_id: str, idempotency_key: str
) -> campaign_pb2.RecordReturnRequest:
    request = campaign_pb2.RecordReturnRequest(
        program_id=program_id,
        idempotency_key=idempotency_key,
        member_id=member_id,
        return_id=value.return_id,
        original_transaction_id=value.original_transaction_id,
        channel=to_proto(value.channel),  # type: ignore[arg-type]
        store_id=value.store_id,
        occurred_at=timestamp(value.occurred_at),
    )
    if value.lines is not None:
        request.lines.CopyFrom(
            campaign_pb2.ReturnLines(
                lines=[
                    campaign_pb2.ReturnLine(
                        sku=line.sku, amount=money_to_proto(line.amount), quantity=line.quantity
                    )
                    for line in value.lines
                ]
            )
        )
    elif value.refunded_amount is not None:
        request.refunded_amount.CopyFrom(money_to_proto(value.refunded_amount))
    return request


def activity_to_proto(value: models.ActivityInput, *, member_id: str) -> engagement_pb2.Activity:
    return engagement_pb2.Activity(
        activity_id=value.activity_id,
        member_id=member_id,
        kind=to_proto(value.kind),  # type: ignore[arg-type]
        channel=to_proto(value.channel),  # type: ignore[arg-type]
        reference=value.reference,
        url=value.url,
        sku=value.sku,
        store_id=value.store_id,
        referred_member_id=value.referred_member_id,
        occurred_at=timestamp(value.occurred_at),
        attributes=value.attributes,
    )


def activity(value: engagement_pb2.Activity, *, duplicate: bool) -> models.Activity:
    return models.Activity(
        activity_id=value.activity_id,
        member_id=value.member_id,
        kind=from_proto(ActivityKind, value.kind),
        channel=from_proto(Channel, value.channel),
        reference=value.reference,
        verification_state=from_proto(VerificationState, value.verification_state),
        outcome=from_proto(ActivityOutcome, value.outcome),
        points=value.points,
        rule_ids=list(value.rule_ids),
        occurred_at=instant(value, "occurred_at"),
        duplicate=duplicate,
    )


# -- rewards, redemptions and codes ---------------------------------------------------------------


def discount(value: rewards_pb2.Discount) -> models.Discount:
    kind = value.WhichOneof("kind")
    return models.Discount(
        fixed_amount=money(value.fixed_amount) if kind == "fixed_amount" else None,
        percent_bps=value.percent_bps if kind == "percent_bps" else None,
        free_shipping=kind == "free_shipping",
        minimum_order=money(value.minimum_order) if value.HasField("minimum_order") else None,
        maximum_discount=(
            money(value.maximum_discount) if value.HasField("maximum_discount") else None
        ),
    )


def reward(value: rewards_pb2.Reward) -> models.Reward:
    return models.Reward(
        reward_id=value.reward_id,
        name=value.name,
        description=value.description,
        kind=from_proto(RewardKind, value.kind),
        points_price=value.points_price,
        discount=discount(value.discount) if value.HasField("discount") else None,
        sku=value.sku,
        image_url=value.image_url,
        valid_from=instant(value, "valid_from"),
        valid_until=instant(value, "valid_until"),
        stock=(
            models.Stock(unlimited=value.stock.unlimited, available=value.stock.available)
            if value.HasField("stock")
            else None
        ),
        per_member_limit=value.per_member_limit,
        status=from_proto(RewardStatus, value.status),
    )


def reward_list(value: rewards_pb2.ListRewardsResponse, *, for_member: bool) -> models.RewardList:
    return models.RewardList(
        rewards=[
            models.RewardListing(
                reward=reward(listing.reward),
                eligible=listing.eligible if for_member else True,
                affordable=listing.affordable if for_member else None,
                remaining_member_limit=listing.remaining_member_limit if for_member else -1,
            )
            for listing in value.listings
        ],
        available_points=value.available_points if for_member else None,
        next_page_token=value.next_page_token,
    )


def redemption(value: rewards_pb2.Redemption) -> models.Redemption:
    return models.Redemption(
        redemption_id=value.redemption_id,
        member_id=value.member_id,
        reward_id=value.reward_id,
        quantity=value.quantity,
        points_spent=value.points_spent,
        status=from_proto(RedemptionStatus, value.status),
        codes=[
            models.IssuedCode(
                code=code.code,
                status=from_proto(CodeStatus, code.status),
                expires_at=instant(code, "expires_at"),
                used_at=instant(code, "used_at"),
            )
            for code in value.codes
        ],
        failure_reason=value.failure_reason,
        channel=from_proto(Channel, value.channel),
        create_time=instant(value, "create_time"),
        complete_time=instant(value, "complete_time"),
        cancel_time=instant(value, "cancel_time"),
    )


def code_validation(value: rewards_pb2.ValidateCodeResponse) -> models.CodeValidation:
    return models.CodeValidation(
        status=from_proto(CodeStatus, value.status),
        member_id=value.member_id,
        redemption_id=value.redemption_id,
        reward_id=value.reward_id,
        reward_name=value.reward_name,
        reward_kind=from_proto(RewardKind, value.reward_kind),
        discount=discount(value.discount) if value.HasField("discount") else None,
        expires_at=instant(value, "expires_at"),
        used_at=instant(value, "used_at"),
    )


def code_use(value: rewards_pb2.UseCodeResponse) -> models.CodeUseResult:
    return models.CodeUseResult(
        status=from_proto(CodeStatus, value.status),
        member_id=value.member_id,
        reward_id=value.reward_id,
        redemption_id=value.redemption_id,
        used_at=instant(value, "used_at"),
    )


# -- privacy --------------------------------------------------------------------------------------


def export(value: identity_pb2.ExportMemberResponse) -> models.MemberExport:
    sections = []
    for section in value.sections:
        textual = section.content_type.startswith(("application/json", "text/"))
        content = (
            section.content.decode("utf-8", "replace")
            if textual
            else base64.b64encode(section.content).decode()
        )
        sections.append(
            models.ExportSection(
                service=section.service, content_type=section.content_type, content=content
            )
        )
    return models.MemberExport(
        member=member(value.member),
        ledger_postings=[
            models.ExportedPosting(
                posting_id=p.posting_id,
                kind=from_proto(PostingKind, p.kind),
                points=p.points,
                source_reference=p.source_reference,
                reason=p.reason,
                occurred_at=instant(p, "occurred_at"),
            )
            for p in value.ledger_postings
        ],
        available_points=value.available_points,
        sections=sections,
        exported_at=instant(value, "exported_at"),
    )


def mission_progress(value: engagement_pb2.MissionProgress) -> models.MissionProgress:
    mission = value.mission
    descriptions = {step.step_code: step.description for step in mission.steps}
    return models.MissionProgress(
        mission_id=value.mission_id,
        name=mission.name,
        description=mission.description,
        reward_points=mission.reward_points,
        badge_code=mission.badge_code,
        badge_name=mission.badge_name,
        end_time=instant(mission, "end_time"),
        state=from_proto(MissionProgressState, value.state),
        steps=[
            models.MissionStepProgress(
                step_code=step.step_code,
                description=descriptions.get(step.step_code, ""),
                done_count=step.done_count,
                required_count=step.required_count,
                completed_at=instant(step, "completed_at"),
            )
            for step in value.steps
        ],
        started_at=instant(value, "started_at"),
        deadline_at=instant(value, "deadline_at"),
        completed_at=instant(value, "completed_at"),
    )


def badge(value: engagement_pb2.MemberBadge) -> models.Badge:
    return models.Badge(
        badge_code=value.badge_code,
        name=value.name,
        mission_id=value.mission_id,
        milestone_code=value.milestone_code,
        awarded_at=instant(value, "awarded_at"),
    )
