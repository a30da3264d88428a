-- The operation journal (the idempotency log) and the SCIM id <-> Tableau LUID mapping (SQLite).
--
-- One `operations` row per mutating SCIM request, with its planned and executed Tableau calls
-- in `operation_steps`. The engine writes the plan before calling Tableau and records each call
-- as it returns, so after a crash every unfinished operation can be resumed from its last
-- completed step (forward recovery), and a retried request finds its operation by key.

-- The Tableau LUID of the user or group a resource is mirrored to; NULL until provisioned.
ALTER TABLE resources ADD COLUMN tableau_luid TEXT;
CREATE INDEX resources_luid_idx ON resources (tenant, tableau_luid) WHERE tableau_luid IS NOT NULL;

CREATE TABLE operations (
    -- Rowid alias, never reused (AUTOINCREMENT): oldest-first order for recovery and listing.
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant          TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    -- The idempotency key while it holds: NULL once an operation without an explicit
    -- `Idempotency-Key` has finished, so an identical later request is a new request.
    idem_key        TEXT,
    explicit_key    INTEGER NOT NULL CHECK (explicit_key IN (0, 1)),
    -- A non-secret label of the credential (never the token itself).
    principal       TEXT    NOT NULL,
    method          TEXT    NOT NULL,
    path            TEXT    NOT NULL,
    -- Hex SHA-256 of the canonical request.
    digest          TEXT    NOT NULL,
    resource_kind   TEXT    NOT NULL CHECK (resource_kind IN ('User', 'Group')),
    resource_id     TEXT    NOT NULL,
    -- JSON, opaque to the store: what the engine needs to resume the operation.
    intent          TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    attempts        INTEGER NOT NULL,
    response_status INTEGER,
    -- JSON: the SCIM error answered, for failed operations.
    error_body      TEXT,
    created         TEXT    NOT NULL,
    -- Last progress (a step recorded, an attempt started): lets a resumer tell a live
    -- operation from an abandoned one.
    updated         TEXT    NOT NULL,
    finished        TEXT,
    UNIQUE (tenant, id)
);

CREATE UNIQUE INDEX operations_idem_key_uq ON operations (tenant, idem_key)
    WHERE idem_key IS NOT NULL;
-- One writer per resource: at most one running operation on a resource, enforced by the
-- database, so it also holds between several servers sharing one database.
CREATE UNIQUE INDEX operations_running_uq ON operations (tenant, resource_kind, resource_id)
    WHERE state = 'running';
-- Recovery scans running operations of all tenants, oldest first.
CREATE INDEX operations_unfinished_idx ON operations (seq) WHERE state = 'running';
-- Admin listings, newest first: per tenant, and per resource.
CREATE INDEX operations_tenant_idx ON operations (tenant, seq);
CREATE INDEX operations_resource_idx ON operations (tenant, resource_id, seq);

CREATE TABLE operation_steps (
    tenant        TEXT    NOT NULL,
    operation_id  TEXT    NOT NULL,
    idx           INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    -- JSON: the planned step, as the engine described it.
    description   TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    -- The Tableau call as made (request_body never holds secrets).
    method        TEXT,
    path          TEXT,
    request_body  TEXT,
    http_status   INTEGER,
    tableau_code  TEXT,
    duration_ms   INTEGER,
    -- The Tableau LUID the step produced or acted on.
    luid          TEXT,
    error         TEXT,
    started       TEXT,
    finished      TEXT,
    PRIMARY KEY (tenant, operation_id, idx),
    FOREIGN KEY (tenant, operation_id) REFERENCES operations (tenant, id) ON DELETE CASCADE
) WITHOUT ROWID;

-- Recording a step is progress of its operation. A trigger rather than a second statement:
-- it keeps `record_step` one statement (one round trip) on the hot path.
CREATE TRIGGER operation_steps_progress AFTER UPDATE OF state ON operation_steps
WHEN NEW.finished IS NOT NULL
BEGIN
    UPDATE operations SET updated = NEW.finished
    WHERE tenant = NEW.tenant AND id = NEW.operation_id;
END;
