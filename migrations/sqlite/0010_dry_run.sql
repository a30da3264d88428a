-- Dry-run (`provision.mode = "dry_run"`, docs/operations.md "Dry-run"): Tableau is read but
-- never written. Each step records the call it would have made with step state `planned`,
-- and the operation, its SCIM side committed, is `planned` (terminal). Once a live server has
-- carried them out through a reconcile, planned operations become `converged`.
--
-- SQLite cannot change a CHECK constraint: both journal tables are rebuilt as migration 0009
-- rebuilt them (see there why the steps table is rebuilt too, and in this order).

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
    removals        INTEGER NOT NULL DEFAULT 0,
    held            TEXT,
    note            TEXT,
    UNIQUE (tenant, id)
);

INSERT INTO operations_new (seq, tenant, id, idem_key, explicit_key, principal, method, path,
    digest, resource_kind, resource_id, intent, state, attempts, response_status, error_body,
    created, updated, finished, claimed_name, request_id, removals, held, note)
SELECT seq, tenant, id, idem_key, explicit_key, principal, method, path,
    digest, resource_kind, resource_id, intent, state, attempts, response_status, error_body,
    created, updated, finished, claimed_name, request_id, removals, held, note
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

-- 0002, 0003, 0006 and 0009
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

CREATE INDEX operations_prunable_idx ON operations (finished) WHERE state = 'succeeded';

CREATE UNIQUE INDEX operations_name_claim_uq ON operations (tenant, resource_kind, claimed_name)
    WHERE state = 'running' AND claimed_name IS NOT NULL;

CREATE INDEX operations_removals_idx ON operations (tenant, created) WHERE removals > 0;
CREATE INDEX operations_held_idx ON operations (tenant, seq) WHERE state = 'held';

-- New: the planned operations a switch to live mode has not converged yet.
CREATE INDEX operations_planned_idx ON operations (tenant, seq) WHERE state = 'planned';
