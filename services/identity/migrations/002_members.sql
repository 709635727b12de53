-- Members and everything keyed by the member. Under Citus the member tables are distributed by
-- member (every key starts with program_id, member_id); the two lookup tables, identifier_lookup
-- and referral_codes, are distributed by the looked-up value, so a resolve is one indexed probe.
-- Identifier kinds and channels are the numbers of loyalty.common.v1.IdentifierKind,
-- ConsentChannel and Channel.
CREATE TABLE members (
    program_id text NOT NULL REFERENCES programs (program_id),
    member_id text NOT NULL,
    -- active, suspended, merged or erased.
    status text NOT NULL DEFAULT 'active',
    given_name text NOT NULL DEFAULT '',
    family_name text NOT NULL DEFAULT '',
    birthday date,
    locale text NOT NULL DEFAULT '',
    home_store_id text NOT NULL DEFAULT '',
    preferences jsonb NOT NULL DEFAULT '{}',
    enrollment_channel smallint NOT NULL,
    enrollment_store_id text NOT NULL DEFAULT '',
    entry_tier_code text NOT NULL,
    referral_code text NOT NULL,
    referrer_member_id text NOT NULL DEFAULT '',
    merged_into_member_id text NOT NULL DEFAULT '',
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    erased_at timestamptz,
    PRIMARY KEY (program_id, member_id)
);

CREATE INDEX members_enrolled_at ON members (program_id, enrolled_at);

-- The identifiers of a member, as the member sees them.
CREATE TABLE member_identifiers (
    program_id text NOT NULL,
    member_id text NOT NULL,
    kind smallint NOT NULL,
    -- The issuer of a social subject or the external system; '' when none.
    provider text NOT NULL DEFAULT '',
    -- The normalised value: lower-cased e-mail, E.164 phone, card digits, subject or id.
    value text NOT NULL,
    verified boolean NOT NULL DEFAULT false,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, member_id, kind, provider, value)
);

-- Every identifier once per program: the uniqueness and the resolve. member_status is a copy of
-- the member's status, kept in the same transaction, so a resolve needs no second lookup.
CREATE TABLE identifier_lookup (
    program_id text NOT NULL,
    kind smallint NOT NULL,
    provider text NOT NULL DEFAULT '',
    value text NOT NULL,
    member_id text NOT NULL,
    member_status text NOT NULL DEFAULT 'active',
    PRIMARY KEY (program_id, kind, provider, value)
);

-- A member's own referral code, to share with friends.
CREATE TABLE referral_codes (
    program_id text NOT NULL,
    referral_code text NOT NULL,
    member_id text NOT NULL,
    PRIMARY KEY (program_id, referral_code)
);

-- The current consent per channel.
CREATE TABLE consents (
    program_id text NOT NULL,
    member_id text NOT NULL,
    channel smallint NOT NULL,
    granted boolean NOT NULL,
    source_channel smallint NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, member_id, channel)
);

-- Every change of consent, as proof of what the member agreed to and when.
CREATE TABLE consent_changes (
    program_id text NOT NULL,
    member_id text NOT NULL,
    change_id bigint GENERATED ALWAYS AS IDENTITY,
    channel smallint NOT NULL,
    granted boolean NOT NULL,
    source_channel smallint NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, member_id, change_id)
);

-- The idempotency keys of the changes made to a member, so an erasure can pseudonymise the
-- responses kept for their retries.
CREATE TABLE member_requests (
    program_id text NOT NULL,
    member_id text NOT NULL,
    idempotency_key text NOT NULL,
    PRIMARY KEY (program_id, member_id, idempotency_key)
);
