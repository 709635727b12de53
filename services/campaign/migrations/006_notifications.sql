-- Notification intents: the program's policy, what campaign knows of members' consents (from
-- identity's events), and every intent decided, published or suppressed, for audit.

-- definition: the NotificationPolicy message. A reference table under Citus.
CREATE TABLE notification_policies (
    program_id text PRIMARY KEY,
    definition bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per member identity told us about; the row a member's intents lock, so the frequency
-- cap holds under concurrent jobs. closed: erased or merged away, never notified again.
CREATE TABLE notification_members (
    program_id text NOT NULL,
    member_id text NOT NULL,
    locale text NOT NULL DEFAULT '',
    closed boolean NOT NULL DEFAULT false,
    PRIMARY KEY (program_id, member_id)
);

-- The consent per channel (ConsentChannel); a later change wins, whatever order events come in.
CREATE TABLE member_consents (
    program_id text NOT NULL,
    member_id text NOT NULL,
    channel smallint NOT NULL,
    granted boolean NOT NULL,
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (program_id, member_id, channel)
);

-- cause: what the intent is for, such as 'points_earned:<event id>' or 'monthly_summary:2025-05';
-- one intent per member and cause, so a redelivered event or a job run again decides nothing
-- twice. status: NotificationStatus. created_at: the instant of the fact (event time or the job's
-- as-of), which the frequency cap counts in.
CREATE TABLE notification_intents (
    program_id text NOT NULL,
    member_id text NOT NULL,
    intent_id uuid NOT NULL,
    cause text NOT NULL,
    kind smallint NOT NULL,
    channel smallint NOT NULL,
    status smallint NOT NULL,
    template_data jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    publish_at timestamptz,
    PRIMARY KEY (program_id, member_id, intent_id),
    UNIQUE (program_id, member_id, cause)
);

CREATE INDEX notification_intents_member ON notification_intents (program_id, member_id, created_at DESC);
CREATE INDEX notification_intents_recent ON notification_intents (program_id, created_at DESC);

-- E-mails the delivery consumer sends, one per intent. state: 1 pending, 2 sent, 3 failed for
-- good, 4 skipped (no address or no consent at delivery time). A redelivered intent finds its row
-- and sends nothing again.
CREATE TABLE email_deliveries (
    program_id text NOT NULL,
    member_id text NOT NULL,
    intent_id uuid NOT NULL,
    state smallint NOT NULL,
    deliver_after timestamptz NOT NULL,
    intent bytea NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    sent_at timestamptz,
    PRIMARY KEY (program_id, member_id, intent_id)
);

CREATE INDEX email_deliveries_due ON email_deliveries (deliver_after) WHERE state = 1;
