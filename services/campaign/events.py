"""The JetStream subjects the campaign service publishes, and the inbound activity stream."""

from services.shared.jetstream import StreamSpec

# Channels publish member activity (reviews, shares, check-ins...) on `activity.<kind>`.
STREAMS = (StreamSpec(name="campaign"), StreamSpec(name="activity"))

PURCHASE_RECORDED = "campaign.purchase_recorded"
MISSION_COMPLETED = "campaign.mission_completed"
BADGE_AWARDED = "campaign.badge_awarded"
NOTIFICATION_INTENT = "campaign.notification_intent"
ACTIVITY = "activity"
