-- The mass-removal guard (docs/operations.md, "Mass-removal guard"). An operation whose
-- removals (deactivations, user deletes, group-member removals) would pass `guard.max_removals`
-- within `guard.window_secs` commits its SCIM side but is `held`: its Tableau steps wait for
-- `tableau-scim ops release` (back to `running`) or `ops discard` (`discarded`, with a note).
-- Dry-run's states (`planned`, `converged`; a step's `planned`) are admitted here too, as on
-- SQLite, where changing a CHECK constraint means rebuilding the journal (once is enough).
ALTER TABLE operations DROP CONSTRAINT operations_state_check;
ALTER TABLE operations ADD CONSTRAINT operations_state_check
    CHECK (state IN ('running', 'succeeded', 'failed', 'held', 'discarded', 'planned',
        'converged'));
ALTER TABLE operation_steps DROP CONSTRAINT operation_steps_state_check;
ALTER TABLE operation_steps ADD CONSTRAINT operation_steps_state_check
    CHECK (state IN ('pending', 'done', 'failed', 'planned'));

-- How many removals the operation's plan holds, set when it is opened: the guard sums them
-- over the operations created within the window (0 for every operation journaled before).
ALTER TABLE operations ADD COLUMN removals BIGINT NOT NULL DEFAULT 0;
-- When the operation was held (its SCIM side was committed then): kept once released, so that
-- the released operation commits nothing more.
ALTER TABLE operations ADD COLUMN held TEXT;
-- Why an operation was discarded (by whom, or superseded by which later operation).
ALTER TABLE operations ADD COLUMN note TEXT;

-- The guard's sum: operations with removals, by creation time.
CREATE INDEX operations_removals_idx ON operations (tenant, created) WHERE removals > 0;
-- `ops held`, oldest first.
CREATE INDEX operations_held_idx ON operations (tenant, seq) WHERE state = 'held';
