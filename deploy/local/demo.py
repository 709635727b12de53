"""The demo program `make run` loads: a coffee chain with tiers, recognition and a small catalog;
and a demo member with points, API keys for a till and the back office, and a card page login.

Every call carries a fixed idempotency key, so loading it again on the next `make run` is a no-op.
"""

import datetime as dt
import hashlib
import secrets

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from deploy.local.cluster import Endpoint
from deploy.local.programs import program_config
from gateway.auth import API_KEY_SCOPES, MEMBER_SCOPES, POS_SCOPES
from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, engagement_pb2, rules_pb2
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc

PROGRAM_ID = "demo-coffee"
TIME_ZONE = "Europe/Amsterdam"

TIERS = [
    ledger_pb2.TierDefinition(
        code="green",
        name="Green",
        rank=0,
        threshold=0,
        multiplier_bps=10_000,
        benefits_text="Earn 10 beans per euro.",
    ),
    ledger_pb2.TierDefinition(
        code="silver",
        name="Silver",
        rank=1,
        threshold=1_500,
        multiplier_bps=12_500,
        benefits_text="25% more beans and a birthday drink.",
    ),
    ledger_pb2.TierDefinition(
        code="gold",
        name="Gold",
        rank=2,
        threshold=5_000,
        multiplier_bps=15_000,
        benefits_text="50% more beans, free refills and early access to seasonal drinks.",
    ),
]

REWARDS = [
    rewards_pb2.Reward(
        reward_id="free-coffee",
        name="Free coffee of your choice",
        kind=common_pb2.REWARD_KIND_COUPON,
        points_price=450,
        discount=rewards_pb2.Discount(percent_bps=10_000),
        stock=rewards_pb2.Stock(unlimited=True),
        status=rewards_pb2.REWARD_STATUS_ACTIVE,
    ),
    rewards_pb2.Reward(
        reward_id="five-euro-voucher",
        name="EUR 5 voucher",
        kind=common_pb2.REWARD_KIND_VOUCHER,
        points_price=900,
        discount=rewards_pb2.Discount(
            fixed_amount=common_pb2.Money(amount_minor=500, currency="EUR")
        ),
        stock=rewards_pb2.Stock(unlimited=True),
        status=rewards_pb2.REWARD_STATUS_ACTIVE,
    ),
    rewards_pb2.Reward(
        reward_id="tote-bag",
        name="Canvas tote bag",
        kind=common_pb2.REWARD_KIND_PRODUCT,
        sku="TOTE-01",
        points_price=2_500,
        stock=rewards_pb2.Stock(available=50),
        per_member_limit=1,
        status=rewards_pb2.REWARD_STATUS_ACTIVE,
    ),
]


async def load_demo_program(endpoints: dict[str, Endpoint]) -> dict[str, str]:
    """Create the demo program in every service; returns what to print about it."""
    async with (
        grpc.aio.insecure_channel(endpoints["identity"].grpc_address) as identity_channel,
        grpc.aio.insecure_channel(endpoints["ledger"].grpc_address) as ledger_channel,
        grpc.aio.insecure_channel(endpoints["campaign"].grpc_address) as campaign_channel,
        grpc.aio.insecure_channel(endpoints["rewards"].grpc_address) as rewards_channel,
    ):
        identity = identity_pb2_grpc.IdentityServiceStub(identity_channel)
        program = identity_pb2.Program(
            program_id=PROGRAM_ID,
            name="Demo Coffee Club",
            points_name="beans",
            currency="EUR",
            time_zone=TIME_ZONE,
            entry_tier_code="green",
            default_locale="nl-NL",
        )
        try:
            await identity.CreateProgram(
                identity_pb2.CreateProgramRequest(
                    program_id=PROGRAM_ID, idempotency_key="demo-program", program=program
                )
            )
        except grpc.aio.AioRpcError as error:
            # Created by an earlier run under another key, e.g. after an edit of this file.
            if error.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise

        ledger = ledger_pb2_grpc.LedgerServiceStub(ledger_channel)
        await ledger.ConfigureProgram(
            ledger_pb2.ConfigureProgramRequest(
                program_id=PROGRAM_ID,
                idempotency_key="demo-ledger-config",
                config=program_config(
                    PROGRAM_ID,
                    points_name="beans",
                    expiry_months=12,
                    requalification_period=ledger_pb2.CALENDAR_PERIOD_MONTH,
                    entry_tier_code="green",
                    time_zone=TIME_ZONE,
                ),
            )
        )
        await ledger.SetTierDefinitions(
            ledger_pb2.SetTierDefinitionsRequest(
                program_id=PROGRAM_ID, idempotency_key="demo-tiers", tiers=TIERS
            )
        )

        campaign = campaign_pb2_grpc.CampaignServiceStub(campaign_channel)
        await campaign.ConfigureRecognition(
            campaign_pb2.ConfigureRecognitionRequest(
                program_id=PROGRAM_ID,
                idempotency_key="demo-recognition",
                config=engagement_pb2.RecognitionConfig(birthday_bonus_points=250),
            )
        )

        await _base_earning_rule(campaign)

        rewards = rewards_pb2_grpc.RewardsServiceStub(rewards_channel)
        for reward in REWARDS:
            try:
                await rewards.CreateReward(
                    rewards_pb2.CreateRewardRequest(
                        program_id=PROGRAM_ID,
                        idempotency_key=f"demo-reward-{reward.reward_id}",
                        reward=reward,
                    )
                )
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise
    return {
        "program": f"{PROGRAM_ID} (Demo Coffee Club, beans, EUR, {TIME_ZONE})",
        "tiers": ", ".join(f"{t.name} from {t.threshold}" for t in TIERS),
        "earning": earning_summary(),
        "rewards": ", ".join(f"{r.name} ({r.points_price})" for r in REWARDS),
        "try": (
            f'grpcurl -plaintext -d \'{{"program_id":"{PROGRAM_ID}"}}\' '
            f"{endpoints['ledger'].grpc_address} loyalty.ledger.v1.LedgerService/ListTierDefinitions"
        ),
    }


BASE_EARNING_RULE = rules_pb2.Rule(
    rule_id="base-earn",
    name="10 beans per euro",
    priority=100,
    earning=rules_pb2.EarningRule(
        rate=rules_pb2.EarnRate(points=10, per_amount_minor=100),
        rounding_mode=common_pb2.ROUNDING_MODE_FLOOR,
        # The tiers' extra beans: their own multipliers (multiplier_bps), as the ledger holds
        # them, so changing a tier's multiplier changes what the rule gives.
        apply_tier_multipliers=True,
        qualifying=True,
    ),
)


def earning_summary() -> str:
    """The base rule as `make run` prints it: "10 beans per euro; Silver x1.25, Gold x1.5"."""
    by_code = {tier.code: tier.name for tier in TIERS}
    extras = ", ".join(
        f"{by_code[tier.code]} x{tier.multiplier_bps / 10_000:g}"
        for tier in TIERS
        if tier.multiplier_bps > 10_000
    )
    return f"{BASE_EARNING_RULE.name}; {extras}"


async def _base_earning_rule(campaign: campaign_pb2_grpc.CampaignServiceStub) -> None:
    """The base rule, live. A rule an earlier `make run` created on other terms (before it took
    the tiers' multipliers) gets a new version with these, so an old .data/ earns as printed too."""
    terms = hashlib.sha256(BASE_EARNING_RULE.SerializeToString(deterministic=True)).hexdigest()[:12]
    try:
        live = await campaign.GetRule(
            campaign_pb2.GetRuleRequest(program_id=PROGRAM_ID, rule_id=BASE_EARNING_RULE.rule_id)
        )
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.NOT_FOUND:
            raise
        created = await campaign.CreateRule(
            campaign_pb2.CreateRuleRequest(
                program_id=PROGRAM_ID,
                idempotency_key=f"demo-rule-base-{terms}",
                rule=BASE_EARNING_RULE,
            )
        )
        version = created.rule.version
    else:
        if live.rule.earning == BASE_EARNING_RULE.earning:
            if live.rule.status == rules_pb2.RULE_STATUS_ACTIVE:
                return
            version = live.rule.version
        else:
            updated = await campaign.UpdateRule(
                campaign_pb2.UpdateRuleRequest(
                    program_id=PROGRAM_ID,
                    idempotency_key=f"demo-rule-base-update-{terms}",
                    rule=BASE_EARNING_RULE,
                    base_version=live.rule.version,
                )
            )
            version = updated.rule.version
    await campaign.ActivateRule(
        campaign_pb2.ActivateRuleRequest(
            program_id=PROGRAM_ID,
            idempotency_key=f"demo-rule-base-activate-{terms}-{version}",
            rule_id=BASE_EARNING_RULE.rule_id,
            version=version,
        )
    )


def timestamp(value: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


DEMO_MEMBER_EMAIL = "demo@example.com"
# (idempotency key, points, days ago earned, expires in days or 0 for the program's policy, note)
DEMO_EARNINGS = (
    ("demo-member-welcome", 500, 60, 0, "welcome"),
    ("demo-member-purchase-1", 420, 40, 0, "purchase"),
    ("demo-member-purchase-2", 680, 25, 0, "purchase"),
    ("demo-member-goodwill", 300, 300, 20, "goodwill"),
)
DEMO_KEYS = {
    "pos": ("Demo POS (store ams-01)", POS_SCOPES),
    "back office": ("Demo back office", tuple(sorted(API_KEY_SCOPES))),
}
DEMO_MEMBER_TOKEN_TTL_S = 8 * 3_600


async def load_demo_member(endpoints: dict[str, Endpoint], gateway_url: str) -> dict[str, str]:
    """A demo member with vested points (some expiring soon), a POS key, a back-office key and a
    member token for the card page; returns what to print about them."""
    async with (
        grpc.aio.insecure_channel(endpoints["identity"].grpc_address) as identity_channel,
        grpc.aio.insecure_channel(endpoints["ledger"].grpc_address) as ledger_channel,
    ):
        identity = identity_pb2_grpc.IdentityServiceStub(identity_channel)
        ledger = ledger_pb2_grpc.LedgerServiceStub(ledger_channel)
        enrolled = await identity.EnrollMember(
            identity_pb2.EnrollMemberRequest(
                program_id=PROGRAM_ID,
                idempotency_key="demo-member",
                channel=common_pb2.CHANNEL_APP,
                profile=identity_pb2.Profile(given_name="Dana", family_name="Demo", locale="nl-NL"),
                identifiers=[
                    identity_pb2.Identifier(
                        kind=common_pb2.IDENTIFIER_KIND_EMAIL, value=DEMO_MEMBER_EMAIL
                    )
                ],
            )
        )
        member_id = enrolled.member.member_id
        for key, points, days_ago, expires_in_days, note in DEMO_EARNINGS:
            await _earn_once(
                ledger,
                member_id=member_id,
                key=key,
                points=points,
                days_ago=days_ago,
                expires_in_days=expires_in_days,
                note=note,
            )
        secrets_by_use = {
            use: await _fresh_api_key(identity, name=name, scopes=scopes)
            for use, (name, scopes) in DEMO_KEYS.items()
        }
        token = await identity.IssueMemberToken(
            identity_pb2.IssueMemberTokenRequest(
                program_id=PROGRAM_ID,
                member_id=member_id,
                scopes=sorted(MEMBER_SCOPES),
                ttl_seconds=DEMO_MEMBER_TOKEN_TTL_S,
            )
        )
    card = f"{gateway_url}/card?program={PROGRAM_ID}"
    # A purchase of its own on every run: a fixed one was a duplicate from the second run on.
    purchase = f"try-{secrets.token_hex(4)}"
    occurred_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return {
        "member": f"{DEMO_MEMBER_EMAIL} ({member_id})",
        "card page": f"{card}  (log in with {DEMO_MEMBER_EMAIL}; demo login, no password)",
        "card, logged in": f"{card}#token={token.token}",
        "POS API key": f"{secrets_by_use['pos']}  (scopes: {' '.join(POS_SCOPES)})",
        "back-office key": f"{secrets_by_use['back office']}  (every scope)",
        "API docs": f"{gateway_url}/docs",
        "try the API": (
            f"curl -s -H 'X-Api-Key: {secrets_by_use['pos']}' -H 'Idempotency-Key: {purchase}' "
            f"-H 'Content-Type: application/json' {gateway_url}/v1/programs/{PROGRAM_ID}/purchases "
            f'-d \'{{"member_id":"{member_id}","transaction_id":"{purchase}","channel":"pos",'
            f'"occurred_at":"{occurred_at}","amount":{{"amount_minor":1250,"currency":"EUR"}}}}\''
        ),
    }


async def _earn_once(
    ledger: ledger_pb2_grpc.LedgerServiceStub,
    *,
    member_id: str,
    key: str,
    points: int,
    days_ago: int,
    expires_in_days: int,
    note: str,
) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    request = ledger_pb2.EarnRequest(
        program_id=PROGRAM_ID,
        idempotency_key=key,
        member_id=member_id,
        points=points,
        source_reference=key,
        reason=ledger_pb2.PostingReason(code=f"demo_{note}", note="demo data"),
        occurred_at=timestamp(now - dt.timedelta(days=days_ago)),
        # Vested already, so the demo member can redeem at once.
        vests_at=timestamp(now - dt.timedelta(days=max(0, days_ago - 14))),
        qualifying=True,
    )
    if expires_in_days:
        request.expires_at.CopyFrom(timestamp(now + dt.timedelta(days=expires_in_days)))
    try:
        await ledger.Earn(request)
    except grpc.aio.AioRpcError as error:
        # Earned by an earlier `make run` (its times differed, so the key says "reused").
        if error.code() != grpc.StatusCode.FAILED_PRECONDITION:
            raise


async def _fresh_api_key(
    identity: identity_pb2_grpc.IdentityServiceStub, *, name: str, scopes: tuple[str, ...]
) -> str:
    """A new key on every run (a secret is shown once); the previous demo keys are revoked."""
    listed = await identity.ListApiKeys(
        identity_pb2.ListApiKeysRequest(program_id=PROGRAM_ID, page_size=200)
    )
    for old in listed.api_keys:
        if old.name == name:
            await identity.RevokeApiKey(
                identity_pb2.RevokeApiKeyRequest(
                    program_id=PROGRAM_ID, idempotency_key=f"revoke-{old.key_id}", key_id=old.key_id
                )
            )
    created = await identity.CreateApiKey(
        identity_pb2.CreateApiKeyRequest(
            program_id=PROGRAM_ID,
            idempotency_key=f"demo-key-{secrets.token_hex(8)}",
            name=name,
            scopes=list(scopes),
        )
    )
    return created.secret
