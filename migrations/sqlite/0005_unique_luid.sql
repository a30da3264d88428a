-- One Tableau LUID belongs to at most one resource: the lookup index on the LUID becomes a
-- unique one. Before it existed, a user or group found by name in Tableau could be linked to
-- a second resource (issue 9, finding 3); such duplicates are cut here, the first resource
-- (in creation order) keeping the link. The others are linked again by name on their next
-- change, which now fails with 409 naming the resource that holds the LUID.
UPDATE resources SET tableau_luid = NULL
WHERE tableau_luid IS NOT NULL
  AND EXISTS (
    SELECT 1 FROM resources AS first
    WHERE first.tenant = resources.tenant
      AND first.tableau_luid = resources.tableau_luid
      AND first.seq < resources.seq
  );

DROP INDEX resources_luid_idx;
CREATE UNIQUE INDEX resources_tableau_luid_uq ON resources (tenant, tableau_luid)
    WHERE tableau_luid IS NOT NULL;
