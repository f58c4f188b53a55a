//! The SQLite event log: append-only, one row per event, positioned by `seq`; the reads of
//! the feed, of message histories and of replay (appends are the fold's, `fold::append`).

use rustc_hash::FxHashMap;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::error::StoreError;
use crate::events::{Envelope, Event, EventFilter, SCHEMA_VERSION};
use crate::model::{ClientId, ProjectId, QueueName, Timestamp};

/// Position of the last event (0 for an empty log).
pub async fn last_seq(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM events")
        .fetch_one(conn)
        .await?;
    Ok(seq.unwrap_or(0))
}

const COLUMNS: &str =
    "seq, recorded_at, project, queue, kind, version, client_id, request_id, payload";

/// An event row as stored, borrowed from whichever driver read it.
struct Stored<'r> {
    seq: i64,
    recorded_at: i64,
    project: &'r str,
    queue: &'r str,
    kind: &'r str,
    version: i64,
    client_id: Option<&'r str>,
    request_id: Option<&'r str>,
    payload: &'r str,
}

/// Names a reader has met, each allocated once however many events carry it.
#[derive(Default)]
struct Names {
    projects: Interned<ProjectId>,
    queues: Interned<QueueName>,
    clients: Interned<ClientId>,
}

/// Shared values by their text; forgets everything once it holds too many.
struct Interned<T>(FxHashMap<Box<str>, T>);

impl<T> Default for Interned<T> {
    fn default() -> Self {
        Interned(FxHashMap::default())
    }
}

impl<T: Clone> Interned<T> {
    const MAX: usize = 4_096;

    fn get(
        &mut self,
        text: &str,
        make: impl FnOnce(&str) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if let Some(value) = self.0.get(text) {
            return Ok(value.clone());
        }
        if self.0.len() == Self::MAX {
            self.0.clear();
        }
        let value = make(text)?;
        self.0.insert(text.into(), value.clone());
        Ok(value)
    }
}

impl Stored<'_> {
    /// The envelope this row records (upcasting older payload versions would happen here).
    fn decode(self) -> Result<Envelope, StoreError> {
        self.decode_with(&mut Names::default())
    }

    /// [`Stored::decode`], sharing the names met before.
    fn decode_with(self, names: &mut Names) -> Result<Envelope, StoreError> {
        if self.version > SCHEMA_VERSION {
            return Err(StoreError::Corrupt(format!(
                "event schema version {} is newer than this build ({SCHEMA_VERSION})",
                self.version
            )));
        }
        Ok(Envelope {
            seq: self.seq,
            at: Timestamp(self.recorded_at),
            project: names.projects.get(self.project, |p| {
                ProjectId::new(Some(p)).map_err(|_| StoreError::Corrupt(p.to_owned()))
            })?,
            queue: names
                .queues
                .get(self.queue, |q| Ok(QueueName::from_stored(q.to_owned())))?,
            client_id: self
                .client_id
                .map(|c| {
                    names
                        .clients
                        .get(c, |c| Ok(ClientId::from_stored(c.to_owned())))
                })
                .transpose()?,
            request_id: self.request_id.map(str::to_owned),
            event: Event::from_stored(self.kind, self.payload)?,
        })
    }
}

/// Decodes a row of `COLUMNS`.
fn envelope(row: &SqliteRow) -> Result<Envelope, StoreError> {
    Stored {
        seq: row.try_get(0)?,
        recorded_at: row.try_get(1)?,
        project: row.try_get(2)?,
        queue: row.try_get(3)?,
        kind: row.try_get(4)?,
        version: row.try_get(5)?,
        client_id: row.try_get(6)?,
        request_id: row.try_get(7)?,
        payload: row.try_get(8)?,
    }
    .decode()
}

/// A page of one project's events, in log order, matching the filter.
pub async fn list(
    conn: &mut SqliteConnection,
    project: &ProjectId,
    filter: &EventFilter,
) -> Result<Vec<Envelope>, StoreError> {
    let kinds = filter.kinds.as_ref().map(|k| format!(",{},", k.join(",")));
    let sql = format!(
        "SELECT {COLUMNS} FROM events
         WHERE project = ?1 AND seq > ?2
           AND (?3 IS NULL OR queue = ?3)
           AND (?4 IS NULL OR instr(?4, ',' || kind || ',') > 0)
           AND (?5 IS NULL OR recorded_at >= ?5)
           AND (?6 IS NULL OR recorded_at < ?6)
         ORDER BY seq LIMIT ?7"
    );
    let rows = sqlx::query(&sql)
        .bind(project.as_str())
        .bind(filter.after)
        .bind(filter.queue.as_ref().map(|q| q.as_str()))
        .bind(kinds)
        .bind(filter.since.map(|t| t.0))
        .bind(filter.until.map(|t| t.0))
        .bind(filter.limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(envelope).collect()
}

/// The events at the given positions that belong to `project`, in order.
pub async fn at_positions(
    conn: &mut SqliteConnection,
    project: &ProjectId,
    seqs: &[i64],
) -> Result<Vec<Envelope>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM events WHERE seq = ?1 AND project = ?2");
    let mut out = Vec::with_capacity(seqs.len());
    for seq in seqs {
        let row = sqlx::query(&sql)
            .bind(seq)
            .bind(project.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(row) = row {
            out.push(envelope(&row)?);
        }
    }
    Ok(out)
}

/// Reads the events in `(after, last]` of every project in log order, on a synchronous
/// connection, handing each to `each`; for replay, which reads the log on a thread of its
/// own and has no use for request ids (the envelopes come without them). Fails if the log
/// has a gap there (it never has one unless it was pruned meanwhile).
pub fn scan(
    conn: &rusqlite::Connection,
    after: i64,
    last: i64,
    mut each: impl FnMut(Envelope) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let sql = "SELECT seq, recorded_at, project, queue, kind, version, client_id, payload
               FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq";
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([after, last])?;
    let mut expected = after + 1;
    let mut names = Names::default();
    while let Some(row) = rows.next()? {
        let env = Stored {
            seq: row.get(0)?,
            recorded_at: row.get(1)?,
            project: text(row, 2)?,
            queue: text(row, 3)?,
            kind: text(row, 4)?,
            version: row.get(5)?,
            client_id: optional_text(row, 6)?,
            request_id: None,
            payload: text(row, 7)?,
        }
        .decode_with(&mut names)?;
        if env.seq != expected {
            return Err(StoreError::Corrupt(format!(
                "the log has no event at seq {expected} (next is {})",
                env.seq
            )));
        }
        expected += 1;
        each(env)?;
    }
    if expected != last + 1 && last > after {
        return Err(StoreError::Corrupt(format!(
            "the log ends at seq {}, before {last}",
            expected - 1
        )));
    }
    Ok(())
}

fn text<'r>(row: &'r rusqlite::Row, column: usize) -> Result<&'r str, StoreError> {
    optional_text(row, column)?
        .ok_or_else(|| StoreError::Corrupt(format!("event column {column} is NULL")))
}

fn optional_text<'r>(row: &'r rusqlite::Row, column: usize) -> Result<Option<&'r str>, StoreError> {
    row.get_ref(column)?
        .as_str_or_null()
        .map_err(|e| StoreError::Corrupt(format!("event column {column}: {e}")))
}
