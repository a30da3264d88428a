-- The number of resources of each kind in each tenant, kept by triggers, so that a list page's
-- `totalResults` is one row read instead of a COUNT over the list index (which reads every
-- entry: ~5 ms for 100,000 users). Exact: the triggers run in the writing transaction, and a
-- rolled-back insert or delete takes its count change with it.

CREATE TABLE resource_counts (
    tenant TEXT    NOT NULL,
    kind   TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (tenant, kind)
) WITHOUT ROWID;

INSERT INTO resource_counts (tenant, kind, n)
SELECT tenant, kind, COUNT(*) FROM resources GROUP BY tenant, kind;

CREATE TRIGGER resources_counted AFTER INSERT ON resources
BEGIN
    INSERT INTO resource_counts (tenant, kind, n) VALUES (NEW.tenant, NEW.kind, 1)
    ON CONFLICT (tenant, kind) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER resources_uncounted AFTER DELETE ON resources
BEGIN
    UPDATE resource_counts SET n = n - 1 WHERE tenant = OLD.tenant AND kind = OLD.kind;
END;
