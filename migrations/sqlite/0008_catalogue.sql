-- Read model: the catalogue of pools and flavors (pools under the catalogue's own project).
CREATE TABLE catalogue (
    kind      TEXT NOT NULL,       -- 'pool' or 'flavor'
    project   TEXT NOT NULL,
    name      TEXT NOT NULL,
    reference TEXT,                -- a pool's flavor
    document  TEXT NOT NULL,       -- JSON object
    PRIMARY KEY (kind, project, name)
) WITHOUT ROWID;
CREATE INDEX catalogue_by_reference ON catalogue (kind, reference);
