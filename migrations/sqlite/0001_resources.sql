-- Resources, their e-mail index and group memberships (SQLite).
--
-- Every table is keyed by tenant first (one Tableau site per tenant), so one database can serve
-- several sites. The document is the source of truth; the *_lower / external_id / e-mail
-- columns are copies derived from it on every write, kept only so that equality filters and
-- uniqueness checks use indexes. Later features (the operation journal, the LUID mapping) add
-- tables in new migrations and reference resources by (tenant, id).

CREATE TABLE resources (
    -- The rowid alias: SQLite assigns it, AUTOINCREMENT guarantees it is never reused, so it is
    -- a stable creation order for paging.
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant             TEXT    NOT NULL,
    id                 TEXT    NOT NULL,
    kind               TEXT    NOT NULL CHECK (kind IN ('User', 'Group')),
    doc                TEXT    NOT NULL,
    -- Users only (NULL for groups, so the plain unique index below concerns users alone).
    user_name          TEXT,
    user_name_lower    TEXT,
    external_id        TEXT,
    display_name       TEXT,
    display_name_lower TEXT,
    created            TEXT    NOT NULL,
    last_modified      TEXT    NOT NULL,
    revision           INTEGER NOT NULL,
    UNIQUE (tenant, id)
);

CREATE UNIQUE INDEX resources_user_name_uq ON resources (tenant, user_name_lower);
-- Tableau group names are case-insensitively unique; user display names are not.
CREATE UNIQUE INDEX resources_group_name_uq ON resources (tenant, display_name_lower)
    WHERE kind = 'Group';
CREATE INDEX resources_display_name_idx ON resources (tenant, display_name_lower);
CREATE INDEX resources_external_id_idx ON resources (tenant, external_id);
CREATE INDEX resources_list_idx ON resources (tenant, kind, seq);

-- Lower-cased emails[].value of each resource, for `emails.value eq "..."` filters.
CREATE TABLE resource_emails (
    tenant      TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    value_lower TEXT NOT NULL,
    PRIMARY KEY (tenant, resource_id, value_lower),
    FOREIGN KEY (tenant, resource_id) REFERENCES resources (tenant, id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX resource_emails_value_idx ON resource_emails (tenant, value_lower);

-- One row per direct member of a group (a member is a User or a Group). Changed row by row,
-- never rewritten as a whole. SQLite only assigns the rowid alias automatically, so `seq`
-- (insertion order of members) is the table key and the natural key is a UNIQUE constraint,
-- which is the same thing as the primary key PostgreSQL declares.
CREATE TABLE memberships (
    seq         INTEGER PRIMARY KEY,
    tenant      TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    member_kind TEXT NOT NULL CHECK (member_kind IN ('User', 'Group')),
    UNIQUE (tenant, group_id, member_id),
    FOREIGN KEY (tenant, group_id) REFERENCES resources (tenant, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant, member_id) REFERENCES resources (tenant, id) ON DELETE CASCADE
);

-- A member's groups (and the cascade when a member is deleted); group_id makes it covering.
CREATE INDEX memberships_member_idx ON memberships (tenant, member_id, group_id);
