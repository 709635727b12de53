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
)

PURCHASE_RECORDED = "campaign.purchase_recorded"
ACTIVITY_VERIFIED = "campaign.activity_verified"
MISSION_COMPLETED = "campaign.mission_completed"
BADGE_AWARDED = "campaign.badge_awarded"
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
