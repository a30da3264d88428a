-- Dry-run (`provision.mode = "dry_run"`, docs/operations.md "Dry-run"): Tableau is read but
-- never written. Each step records the call it would have made with step state `planned`,
-- and the operation, its SCIM side committed, is `planned` (terminal). Once a live server has
-- carried them out through a reconcile, planned operations become `converged`. The states
-- are in the CHECK constraints migration 0009 rebuilt the journal tables with.

-- The planned operations a switch to live mode has not converged yet.
CREATE INDEX operations_planned_idx ON operations (tenant, seq) WHERE state = 'planned';
