-- Events that carry a member's personal data (services/shared/personal_data.py) name the member,
-- so an erasure finds them: it blanks their payloads, published or not, and sets
-- personal_erased. NULL for every other event, so the partial index costs them nothing.
ALTER TABLE outbox
    ADD COLUMN personal_program_id text,
    ADD COLUMN personal_member_id text,
    ADD COLUMN personal_erased boolean NOT NULL DEFAULT false;

CREATE INDEX outbox_personal ON outbox (personal_program_id, personal_member_id)
    WHERE personal_member_id IS NOT NULL;

-- Where the relay stored each event carrying personal data (the stream and sequence of its
-- publish ack), so an erasure can delete it from JetStream. Kept as long as the streams keep
-- messages (their max age), then pruned.
CREATE TABLE outbox_personal_messages (
    program_id text NOT NULL,
    member_id text NOT NULL,
    stream text NOT NULL,
    stream_seq bigint NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, stream_seq)
);

CREATE INDEX outbox_personal_messages_member ON outbox_personal_messages (program_id, member_id);

CREATE INDEX outbox_personal_messages_published_at ON outbox_personal_messages (published_at);

-- Messages an erasure must delete from JetStream (after publishing a copy without the personal
-- data), written in the erasure's transaction and worked off by the relay, retried until done.
CREATE TABLE stream_erasures (
    stream text NOT NULL,
    stream_seq bigint NOT NULL,
    program_id text NOT NULL,
    member_id text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    attempt_count integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, stream_seq)
);

CREATE INDEX stream_erasures_due ON stream_erasures (next_attempt_at);
