-- Citus's placement functions for a plain PostgreSQL test database: each checks what Citus
-- would refuse (a unique key without the distribution column, a foreign key Citus cannot keep,
-- a colocation of another column type, a table placed twice) and records the placement in a
-- pg_dist_partition table shaped like Citus's catalog, so deploy/citus.py runs unchanged.

CREATE TABLE public.pg_dist_partition (
    logicalrelid regclass PRIMARY KEY,
    -- 'h' hash-distributed, 'n' not distributed (reference or Citus local).
    partmethod "char" NOT NULL,
    -- The distribution column's name (Citus keeps a Var node here).
    partkey text,
    colocationid integer NOT NULL,
    -- 't' reference (replicated to every node), 's' distributed or Citus local.
    repmodel "char" NOT NULL,
    -- Which function placed it, for the test's messages.
    placed_by text NOT NULL,
    -- 'default' groups are per column type, as Citus's implicit colocation.
    default_group regtype
);

CREATE SEQUENCE public.citus_check_colocation_ids;

-- Foreign keys of a table, with the referenced table's placement (NULL when not placed).
CREATE FUNCTION public.citus_check_foreign_keys(relation regclass)
RETURNS TABLE (constraint_name name, referenced regclass, conkey smallint[], confkey smallint[],
               partmethod "char", repmodel "char", partkey text, colocationid integer)
LANGUAGE sql STABLE AS $$
    SELECT c.conname, c.confrelid::regclass, c.conkey, c.confkey,
           p.partmethod, p.repmodel, p.partkey, p.colocationid
    FROM pg_constraint c
    LEFT JOIN public.pg_dist_partition p ON p.logicalrelid = c.confrelid
    WHERE c.conrelid = relation AND c.contype = 'f'
$$;

CREATE FUNCTION public.citus_check_not_placed(relation regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM public.pg_dist_partition WHERE logicalrelid = relation) THEN
        RAISE EXCEPTION 'table "%" is already distributed', relation;
    END IF;
    -- Citus cannot keep a foreign key from a reference table to anything but a reference table.
    IF EXISTS (
        SELECT 1 FROM pg_constraint c
        JOIN public.pg_dist_partition p ON p.logicalrelid = c.conrelid
        WHERE c.confrelid = relation AND c.contype = 'f' AND p.repmodel = 't'
    ) THEN
        RAISE EXCEPTION 'a reference table has a foreign key to "%", which is not one', relation;
    END IF;
END
$$;

CREATE FUNCTION public.create_reference_table(table_name regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    fk record;
BEGIN
    PERFORM public.citus_check_not_placed(table_name);
    FOR fk IN SELECT * FROM public.citus_check_foreign_keys(table_name) LOOP
        IF fk.referenced <> table_name AND fk.repmodel IS DISTINCT FROM 't' THEN
            RAISE EXCEPTION 'cannot create reference table "%": foreign key % references "%", '
                'which is not a reference table (place it first)',
                table_name, fk.constraint_name, fk.referenced;
        END IF;
    END LOOP;
    INSERT INTO public.pg_dist_partition VALUES
        (table_name, 'n', NULL, nextval('public.citus_check_colocation_ids'), 't',
         'create_reference_table', NULL);
END
$$;

CREATE FUNCTION public.citus_add_local_table_to_metadata(
    table_name regclass, cascade_via_foreign_keys boolean DEFAULT false
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    fk record;
BEGIN
    PERFORM public.citus_check_not_placed(table_name);
    FOR fk IN SELECT * FROM public.citus_check_foreign_keys(table_name) LOOP
        IF fk.referenced <> table_name AND fk.partmethod IS DISTINCT FROM 'n' THEN
            RAISE EXCEPTION 'cannot add local table "%": foreign key % references "%", '
                'which is distributed or not placed', table_name, fk.constraint_name, fk.referenced;
        END IF;
    END LOOP;
    INSERT INTO public.pg_dist_partition VALUES
        (table_name, 'n', NULL, 0, 's', 'citus_add_local_table_to_metadata', NULL);
END
$$;

CREATE FUNCTION public.create_distributed_table(
    table_name regclass,
    distribution_column text,
    distribution_type text DEFAULT 'hash',
    colocate_with text DEFAULT 'default',
    shard_count integer DEFAULT NULL
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    column_number smallint;
    column_type regtype;
    colocation integer;
    other record;
    fk record;
    unique_index record;
    identity_column record;
BEGIN
    IF distribution_type <> 'hash' THEN
        RAISE EXCEPTION 'only hash distribution is used here, got %', distribution_type;
    END IF;
    PERFORM public.citus_check_not_placed(table_name);
    SELECT a.attnum, a.atttypid::regtype INTO column_number, column_type
    FROM pg_attribute a
    WHERE a.attrelid = table_name AND a.attname = distribution_column AND NOT a.attisdropped;
    IF column_number IS NULL THEN
        RAISE EXCEPTION 'column "%" of relation "%" does not exist', distribution_column, table_name;
    END IF;

    -- Citus enforces a unique key on each shard only: the key must hold the distribution column.
    FOR unique_index IN
        SELECT i.indexrelid::regclass AS name, i.indkey::smallint[] AS columns
        FROM pg_index i
        WHERE i.indrelid = table_name
          AND (i.indisunique OR i.indisexclusion)
    LOOP
        IF NOT column_number = ANY (unique_index.columns) THEN
            RAISE EXCEPTION 'cannot create constraint on "%": unique key % does not include the '
                'distribution column "%"', table_name, unique_index.name, distribution_column;
        END IF;
    END LOOP;

    -- Citus supports identity columns on distributed tables only as bigint.
    FOR identity_column IN
        SELECT a.attname, a.atttypid::regtype AS type FROM pg_attribute a
        WHERE a.attrelid = table_name AND a.attidentity <> '' AND NOT a.attisdropped
    LOOP
        IF identity_column.type <> 'bigint'::regtype THEN
            RAISE EXCEPTION 'identity column "%" of "%" must be bigint on a distributed table',
                identity_column.attname, table_name;
        END IF;
    END LOOP;

    IF colocate_with = 'none' THEN
        colocation := nextval('public.citus_check_colocation_ids');
    ELSIF colocate_with = 'default' THEN
        SELECT p.colocationid INTO colocation FROM public.pg_dist_partition p
        WHERE p.default_group = column_type LIMIT 1;
        colocation := coalesce(colocation, nextval('public.citus_check_colocation_ids'));
    ELSE
        SELECT p.*, a.atttypid::regtype AS type INTO other
        FROM public.pg_dist_partition p
        JOIN pg_attribute a ON a.attrelid = p.logicalrelid AND a.attname = p.partkey
        WHERE p.logicalrelid = to_regclass(colocate_with) AND p.partmethod = 'h';
        IF other IS NULL THEN
            RAISE EXCEPTION 'cannot colocate "%" with "%": it is not a distributed table',
                table_name, colocate_with;
        END IF;
        IF other.type <> column_type THEN
            RAISE EXCEPTION 'cannot colocate "%" with "%": distribution column types differ '
                '(% and %)', table_name, colocate_with, column_type, other.type;
        END IF;
        colocation := other.colocationid;
    END IF;

    -- A foreign key must point at a reference table, or at a colocated distributed table on
    -- its distribution column.
    FOR fk IN SELECT * FROM public.citus_check_foreign_keys(table_name) LOOP
        IF fk.repmodel = 't' THEN
            CONTINUE;
        END IF;
        IF fk.partmethod = 'h' AND fk.colocationid = colocation AND EXISTS (
            SELECT 1 FROM unnest(fk.conkey, fk.confkey) AS pair(local, remote)
            JOIN pg_attribute a ON a.attrelid = fk.referenced AND a.attnum = pair.remote
            WHERE pair.local = column_number AND a.attname = fk.partkey
        ) THEN
            CONTINUE;
        END IF;
        RAISE EXCEPTION 'cannot distribute "%": foreign key % references "%", which is neither a '
            'reference table nor colocated on the distribution column',
            table_name, fk.constraint_name, fk.referenced;
    END LOOP;

    INSERT INTO public.pg_dist_partition VALUES
        (table_name, 'h', distribution_column, colocation, 's', 'create_distributed_table',
         CASE WHEN colocate_with = 'default' THEN column_type END);
END
$$;
