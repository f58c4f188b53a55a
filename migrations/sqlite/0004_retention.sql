-- Facts about the log itself: `horizon` (events up to this position were pruned) and
-- `snapshot` (the position whose read models were saved before pruning).
CREATE TABLE log_meta (
    key   TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
