-- The admin console's journal (postgres): every Tableau exchange of a step, the SCIM request an
-- operation answers, and the requests the bridge refused before journaling anything.

-- JSON array, one object per HTTP exchange of the step (sign-ins and retries included):
-- method, path, request and response bodies with secrets redacted (src/redact.rs), status,
-- Tableau error code, duration, attempt. NULL for steps recorded before this migration.
ALTER TABLE operation_steps ADD COLUMN calls TEXT;

-- The SCIM request's body (JSON, secrets redacted) and the userName or displayName the
-- operation is about, so the console can find "what happened to alice@acme.com".
ALTER TABLE operations ADD COLUMN request_body TEXT;
ALTER TABLE operations ADD COLUMN resource_name TEXT;

-- The console's lists, newest first: by state, and the counts of the last 24 hours.
CREATE INDEX operations_state_idx ON operations (tenant, state, seq);
CREATE INDEX operations_created_idx ON operations (tenant, created);

-- Requests answered 400 or 409 without an operation (invalid input, a name taken): before
-- this table they left no trace. Pruned by the journal retention like succeeded operations.
CREATE TABLE refused_requests (
    seq BIGSERIAL PRIMARY KEY,
    tenant        TEXT    NOT NULL,
    created       TEXT    NOT NULL,
    request_id    TEXT,
    principal     TEXT    NOT NULL,
    method        TEXT    NOT NULL,
    path          TEXT    NOT NULL,
    resource_kind TEXT    CHECK (resource_kind IN ('User', 'Group')),
    resource_name TEXT,
    -- JSON, secrets redacted; NULL when the body was not JSON.
    request_body  TEXT,
    status        BIGINT  NOT NULL,
    -- JSON: the SCIM error answered.
    error_body    TEXT    NOT NULL
);
CREATE INDEX refused_requests_tenant_idx ON refused_requests (tenant, seq);
CREATE INDEX refused_requests_created_idx ON refused_requests (created);
