-- The `X-Request-Id` of the request that opened an operation (the client's, or the one the
-- server generated), so that a log line, an IdP's report and the journal can be matched.
-- NULL for operations journaled before this migration.
ALTER TABLE operations ADD COLUMN request_id TEXT;
