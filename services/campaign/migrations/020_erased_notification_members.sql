-- Erased (identity's member_erased), as against merged away: both are closed, but only an
-- erasure takes the member's personal data out of campaign's notification intents (the outbox,
-- the stream, the e-mail deliveries), once: a member_erased delivered again does nothing more.
ALTER TABLE notification_members ADD COLUMN erased boolean NOT NULL DEFAULT false;
