-- Printable card series: the numbers generated for a program, so no series repeats a number.
-- Program inventory, not member data (a reference-style table under Citus, keyed by number).
CREATE TABLE card_series (
    program_id text NOT NULL REFERENCES programs (program_id),
    series_id text NOT NULL,
    prefix text NOT NULL,
    card_length smallint NOT NULL,
    card_count integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, series_id)
);

CREATE TABLE card_numbers (
    program_id text NOT NULL,
    card_number text NOT NULL,
    series_id text NOT NULL,
    PRIMARY KEY (program_id, card_number)
);
