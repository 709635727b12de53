"""Campaign's own Prometheus metrics, registered on the process's registry (services/shared/metrics.py).

Counted where the fact is decided, inside its transaction: a transaction that rolls back after
counting (rare: a ledger refusal, a deadlock retried) over-counts by one.
"""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter


@dataclass(frozen=True)
class CampaignMetrics:
    missions_completed: Counter
    badges_awarded: Counter
    notification_intents: Counter
    emails: Counter
    cap_history_pruned_rows: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> "CampaignMetrics":
        # Without a registry (tests building parts by hand) the counters count for nobody.
        registry = registry or CollectorRegistry()
        return cls(
            missions_completed=Counter(
                "loyalty_campaign_missions_completed",
                "Missions completed by members.",
                ["program"],
                registry=registry,
            ),
            badges_awarded=Counter(
                "loyalty_campaign_badges_awarded",
                "Badges awarded to members (each member and badge once).",
                ["program"],
                registry=registry,
            ),
            notification_intents=Counter(
                "loyalty_campaign_notification_intents",
                "Notification intents decided, by kind and outcome: published, deferred "
                "(quiet hours), or suppressed with the reason (no_consent, frequency_cap, disabled).",
                ["program", "kind", "outcome"],
                registry=registry,
            ),
            emails=Counter(
                "loyalty_campaign_emails",
                "E-mails of notification intents, by outcome (sent, failed, no_address, "
                "no_consent).",
                ["program", "outcome"],
                registry=registry,
            ),
            cap_history_pruned_rows=Counter(
                "loyalty_campaign_cap_history_pruned_rows",
                "Rows of member-cap history deleted for being older than the retention.",
                registry=registry,
            ),
        )
