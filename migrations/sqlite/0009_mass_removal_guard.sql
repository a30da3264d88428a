-- The mass-removal guard (docs/operations.md, "Mass-removal guard"). An operation whose
-- removals (deactivations, user deletes, group-member removals) would pass `guard.max_removals`
-- within `guard.window_secs` commits its SCIM side but is `held`: its Tableau steps wait for
-- `tableau-scim ops release` (back to `running`) or `ops discard` (`discarded`, with a note).
--
-- SQLite cannot change a CHECK constraint, so `operations` is rebuilt with the new states
-- and columns (dry-run's states too, `planned` and `converged`, and the steps' `planned`: they
-- landed together, and one rebuild of the journal is enough; migration 0010 adds its index). Dropping it would delete every step through the foreign key's ON DELETE CASCADE
-- (foreign keys are on, and cannot be turned off inside the migration's transaction), so
-- `operation_steps` is rebuilt too, referring to the new table: the old steps table goes
-- first, then the old operations table (nothing refers to it any more), then both new tables
-- take the old names (the rename rewrites the foreign key). Indexes and the trigger are made
-- again as migrations 0002, 0003 and 0006 made them.

CREATE TABLE operations_new (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant          TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    idem_key        TEXT,
    explicit_key    INTEGER NOT NULL CHECK (explicit_key IN (0, 1)),
    principal       TEXT    NOT NULL,
    method          TEXT    NOT NULL,
    path            TEXT    NOT NULL,
    digest          TEXT    NOT NULL,
    resource_kind   TEXT    NOT NULL CHECK (resource_kind IN ('User', 'Group')),
    resource_id     TEXT    NOT NULL,
    intent          TEXT    NOT NULL,
    state           TEXT    NOT NULL
        CHECK (state IN ('running', 'succeeded', 'failed', 'held', 'discarded', 'planned',
            'converged')),
    attempts        INTEGER NOT NULL,
    response_status INTEGER,
    error_body      TEXT,
    created         TEXT    NOT NULL,
    updated         TEXT    NOT NULL,
    finished        TEXT,
    claimed_name    TEXT,
    request_id      TEXT,
    -- How many removals the operation's plan holds, set when it is opened: the guard sums
    -- them over the operations created within the window (0 for those journaled before).
    removals        INTEGER NOT NULL DEFAULT 0,
    -- When the operation was held (its SCIM side was committed then): kept once released, so
    -- that the released operation commits nothing more.
    held            TEXT,
    -- Why an operation was discarded (by whom, or superseded by which later operation).
    note            TEXT,
    UNIQUE (tenant, id)
);

INSERT INTO operations_new (seq, tenant, id, idem_key, explicit_key, principal, method, path,
    digest, resource_kind, resource_id, intent, state, attempts, response_status, error_body,
    created, updated, finished, claimed_name, request_id)
SELECT seq, tenant, id, idem_key, explicit_key, principal, method, path,
    digest, resource_kind, resource_id, intent, state, attempts, response_status, error_body,
    created, updated, finished, claimed_name, request_id
FROM operations;

-- AUTOINCREMENT's promise (a `seq` is never reused, also after retention deleted the newest
-- rows) carries over: the new table continues from the old table's counter.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'operations_new', 0 WHERE NOT EXISTS
    (SELECT 1 FROM sqlite_sequence WHERE name = 'operations_new');
UPDATE sqlite_sequence
SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'operations'), 0))
WHERE name = 'operations_new';

CREATE TABLE operation_steps_new (
    tenant        TEXT    NOT NULL,
    operation_id  TEXT    NOT NULL,
    idx           INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'failed', 'planned')),
    method        TEXT,
    path          TEXT,
    request_body  TEXT,
    http_status   INTEGER,
    tableau_code  TEXT,
    duration_ms   INTEGER,
    luid          TEXT,
    error         TEXT,
    started       TEXT,
    finished      TEXT,
    PRIMARY KEY (tenant, operation_id, idx),
    FOREIGN KEY (tenant, operation_id) REFERENCES operations_new (tenant, id) ON DELETE CASCADE
) WITHOUT ROWID;

INSERT INTO operation_steps_new (tenant, operation_id, idx, kind, description, state, method,
    path, request_body, http_status, tableau_code, duration_ms, luid, error, started, finished)
SELECT tenant, operation_id, idx, kind, description, state, method,
    path, request_body, http_status, tableau_code, duration_ms, luid, error, started, finished
FROM operation_steps;

DROP TABLE operation_steps;
DROP TABLE operations;
ALTER TABLE operations_new RENAME TO operations;
ALTER TABLE operation_steps_new RENAME TO operation_steps;

-- 0002
CREATE UNIQUE INDEX operations_idem_key_uq ON operations (tenant, idem_key)
    WHERE idem_key IS NOT NULL;
CREATE UNIQUE INDEX operations_running_uq ON operations (tenant, resource_kind, resource_id)
    WHERE state = 'running';
CREATE INDEX operations_unfinished_idx ON operations (seq) WHERE state = 'running';
CREATE INDEX operations_tenant_idx ON operations (tenant, seq);
CREATE INDEX operations_resource_idx ON operations (tenant, resource_id, seq);

CREATE TRIGGER operation_steps_progress AFTER UPDATE OF state ON operation_steps
WHEN NEW.finished IS NOT NULL
BEGIN
    UPDATE operations SET updated = NEW.finished
    WHERE tenant = NEW.tenant AND id = NEW.operation_id;
END;

-- 0003
CREATE INDEX operations_prunable_idx ON operations (finished) WHERE state = 'succeeded';

-- 0006
CREATE UNIQUE INDEX operations_name_claim_uq ON operations (tenant, resource_kind, claimed_name)
    WHERE state = 'running' AND claimed_name IS NOT NULL;

-- New: the guard's sum (operations with removals, by creation time) and `ops held`.
CREATE INDEX operations_removals_idx ON operations (tenant, created) WHERE removals > 0;
CREATE INDEX operations_held_idx ON operations (tenant, seq) WHERE state = 'held';
