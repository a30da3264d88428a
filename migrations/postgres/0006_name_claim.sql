-- A name is claimed once: a running operation that will commit a resource's unique name
-- (lower-case `userName` or group `displayName`, on a create or a rename) records it, and no
-- other running operation may claim the same one. The store's unique index on names decides
-- only at commit, after the Tableau calls; two creates of one name that both outlive their
-- requests (left running for the background worker, or resumed after a crash) would otherwise
-- both reach Tableau, the second linking the first one's Tableau user (issue 9).
ALTER TABLE operations ADD COLUMN claimed_name TEXT;
CREATE UNIQUE INDEX operations_name_claim_uq ON operations (tenant, resource_kind, claimed_name)
    WHERE state = 'running' AND claimed_name IS NOT NULL;
