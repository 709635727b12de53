-- Intents deferred by quiet hours are held here until their end (publish_at) and published only
-- then, after the frequency cap is checked again for the day they go out: held = true until
-- released (or suppressed at release). Intents deferred before this migration were published at
-- once with deliver_after set; they are not held.
ALTER TABLE notification_intents ADD COLUMN held boolean NOT NULL DEFAULT false;

-- The release job's scan: the held intents that are due.
CREATE INDEX notification_intents_held ON notification_intents (publish_at) WHERE held;

-- The frequency cap counts a member's intents by the local day / week they go out (publish_at).
CREATE INDEX notification_intents_publish ON notification_intents (program_id, member_id, publish_at)
    WHERE publish_at IS NOT NULL;
