-- The number of resources of each kind in each tenant, kept by a trigger, so that a list page's
-- `totalResults` is one row read instead of a COUNT over the list index (which reads every
-- entry). Exact: the trigger runs in the writing transaction. A create or delete holds its
-- (tenant, kind) row until it commits, so creates of one kind commit one after the other; each
-- is one short transaction (the Tableau calls happen before it).

CREATE TABLE resource_counts (
    tenant TEXT   NOT NULL,
    kind   TEXT   NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (tenant, kind)
);

INSERT INTO resource_counts (tenant, kind, n)
SELECT tenant, kind, COUNT(*) FROM resources GROUP BY tenant, kind;

CREATE FUNCTION resource_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO resource_counts (tenant, kind, n) VALUES (NEW.tenant, NEW.kind, 1)
        ON CONFLICT (tenant, kind) DO UPDATE SET n = resource_counts.n + 1;
    ELSE
        UPDATE resource_counts SET n = n - 1 WHERE tenant = OLD.tenant AND kind = OLD.kind;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER resources_counted AFTER INSERT OR DELETE ON resources
FOR EACH ROW EXECUTE FUNCTION resource_counts_track();
