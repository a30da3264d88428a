-- Dry-run (`provision.mode = "dry_run"`, docs/operations.md "Dry-run"): Tableau is read but
-- never written. Each step records the call it would have made with step state `planned`,
-- and the operation, its SCIM side committed, is `planned` (terminal). Once a live server has
-- carried them out through a reconcile, planned operations become `converged`.
ALTER TABLE operations DROP CONSTRAINT operations_state_check;
ALTER TABLE operations ADD CONSTRAINT operations_state_check
    CHECK (state IN ('running', 'succeeded', 'failed', 'held', 'discarded', 'planned',
        'converged'));
ALTER TABLE operation_steps DROP CONSTRAINT operation_steps_state_check;
ALTER TABLE operation_steps ADD CONSTRAINT operation_steps_state_check
    CHECK (state IN ('pending', 'done', 'failed', 'planned'));

-- The planned operations a switch to live mode has not converged yet.
CREATE INDEX operations_planned_idx ON operations (tenant, seq) WHERE state = 'planned';
