"""The JetStream subjects the campaign service publishes and consumes."""

from services.shared.jetstream import ConsumerSpec, StreamSpec

# Channels publish member activity (reviews, shares, check-ins...) on `activity.<kind>`. The
# identity and ledger streams are declared here too: campaign consumes from them and may start
# first.
STREAMS = (
    StreamSpec(name="campaign"),
    StreamSpec(name="activity"),
    StreamSpec(name="identity"),
    StreamSpec(name="ledger"),
    StreamSpec(name="rewards"),
)

PURCHASE_RECORDED = "campaign.purchase_recorded"
ACTIVITY_VERIFIED = "campaign.activity_verified"
MISSION_COMPLETED = "campaign.mission_completed"
BADGE_AWARDED = "campaign.badge_awarded"
# A completion or badge announced above and taken back (a purchase it counted was refused).
MISSION_COMPLETION_WITHDRAWN = "campaign.mission_completion_withdrawn"
BADGE_WITHDRAWN = "campaign.badge_withdrawn"
NOTIFICATION_INTENT = "campaign.notification_intent"
ACTIVITY = "activity"

ACTIVITY_CONSUMER = ConsumerSpec(
    stream="activity", durable="campaign_activities", filter_subjects=("activity.>",)
)
MEMBER_CONSUMER = ConsumerSpec(
    stream="identity",
    durable="campaign_members",
    filter_subjects=("identity.member_enrolled", "identity.member_updated"),
)
TIER_CONSUMER = ConsumerSpec(
    stream="ledger", durable="campaign_tiers", filter_subjects=("ledger.tier_changed",)
)
# The program's tiers and the mappings of removed codes (services/campaign/consumers_tiers.py).
TIER_DEFINITIONS_CONSUMER = ConsumerSpec(
    stream="ledger",
    durable="campaign_tier_definitions",
    filter_subjects=("ledger.tier_definitions_changed",),
)
SEGMENT_FACTS_CONSUMERS = (
    ConsumerSpec(
        stream="identity",
        durable="campaign_segment_members",
        filter_subjects=(
            "identity.member_enrolled",
            "identity.consent_changed",
            "identity.member_erased",
            "identity.member_merged",
        ),
    ),
    ConsumerSpec(
        stream="ledger", durable="campaign_segment_tiers", filter_subjects=("ledger.tier_changed",)
    ),
)
REDEMPTION_CONSUMER = ConsumerSpec(
    stream="rewards",
    durable="campaign_redemptions",
    filter_subjects=("rewards.reward_redeemed", "rewards.redemption_cancelled"),
)

# Notification intents: decided from the ledger's facts, with the consents identity announces,
# and delivered by e-mail when SMTP is configured.
NOTIFICATION_CONSUMER = ConsumerSpec(
    stream="ledger",
    durable="campaign_notifications",
    filter_subjects=("ledger.points_posted", "ledger.tier_changed", "ledger.points_expiring"),
)
CONSENT_CONSUMER = ConsumerSpec(
    stream="identity",
    durable="campaign_consents",
    filter_subjects=(
        "identity.member_enrolled",
        "identity.member_updated",
        "identity.consent_changed",
        "identity.member_erased",
        "identity.member_merged",
    ),
)
EMAIL_CONSUMER = ConsumerSpec(
    stream="campaign", durable="campaign_email", filter_subjects=(NOTIFICATION_INTENT,)
)
