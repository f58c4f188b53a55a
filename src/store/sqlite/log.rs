//! The SQLite event log: append-only, one row per event, positioned by `seq`; the reads of
//! the feed, of message histories and of replay (appends are the fold's, `fold::append`).

use rustc_hash::FxHashMap;

use crate::error::StoreError;
use crate::events::{Envelope, Event, EventFilter, SCHEMA_VERSION};
use crate::model::{ClientId, ProjectId, QueueName, Timestamp};

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
pub struct Names {
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
    /// The envelope this row records, sharing the names met before (upcasting older payload
    /// versions would happen here).
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
            project: names
                .projects
                .get(self.project, |p| Ok(ProjectId::from_stored(p.to_owned())))?,
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

/// Reads a row of `COLUMNS`.
fn stored<'r>(row: &'r rusqlite::Row<'_>) -> Result<Stored<'r>, StoreError> {
    Ok(Stored {
        seq: row.get(0)?,
        recorded_at: row.get(1)?,
        project: text(row, 2)?,
        queue: text(row, 3)?,
        kind: text(row, 4)?,
        version: row.get(5)?,
        client_id: optional_text(row, 6)?,
        request_id: optional_text(row, 7)?,
        payload: text(row, 8)?,
    })
}

/// Decodes a row of `COLUMNS`.
fn envelope(row: &rusqlite::Row<'_>, names: &mut Names) -> Result<Envelope, StoreError> {
    stored(row)?.decode_with(names)
}

/// The events a query of `COLUMNS` returns, in its order.
fn envelopes(
    conn: &rusqlite::Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<Envelope>, StoreError> {
    let mut select = conn.prepare_cached(sql)?;
    let mut rows = select.query(args)?;
    let (mut out, mut names) = (Vec::new(), Names::default());
    while let Some(row) = rows.next()? {
        out.push(envelope(row, &mut names)?);
    }
    Ok(out)
}

/// Position of the last event (0 for an empty log).
pub fn head(conn: &rusqlite::Connection) -> Result<i64, StoreError> {
    let seq: Option<i64> = conn
        .prepare_cached("SELECT MAX(seq) FROM events")?
        .query_row([], |r| r.get(0))?;
    Ok(seq.unwrap_or(0))
}

/// A page of one project's events, in log order, matching the filter.
pub fn list(
    conn: &rusqlite::Connection,
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
    let args = rusqlite::params![
        project.as_str(),
        filter.after,
        filter.queue.as_ref().map(|q| q.as_str()),
        kinds,
        filter.since.map(|t| t.0),
        filter.until.map(|t| t.0),
        filter.limit
    ];
    envelopes(conn, &sql, args)
}

/// Up to `limit` events of every project after `after`, in log order (for catch-up
/// consumers such as the notification engine).
pub fn range(
    conn: &rusqlite::Connection,
    after: i64,
    limit: i64,
) -> Result<Vec<Envelope>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2");
    envelopes(conn, &sql, rusqlite::params![after, limit])
}

/// The events at the given positions that belong to `project`, in order.
pub fn at_positions(
    conn: &rusqlite::Connection,
    project: &ProjectId,
    seqs: &[i64],
) -> Result<Vec<Envelope>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM events WHERE seq = ?1 AND project = ?2");
    let mut out = Vec::with_capacity(seqs.len());
    for seq in seqs {
        out.extend(envelopes(
            conn,
            &sql,
            rusqlite::params![seq, project.as_str()],
        )?);
    }
    Ok(out)
}

/// A run of consecutive events read by [`scan`]: decoded, or copied out as stored for the
/// thread that receives it to decode.
pub enum Batch {
    Decoded(Vec<Envelope>),
    Stored(StoredBatch),
}

impl Batch {
    fn new(capacity: usize, stored: bool) -> Self {
        if stored {
            Batch::Stored(StoredBatch {
                text: String::with_capacity(capacity * TEXT_PER_EVENT),
                rows: Vec::with_capacity(capacity),
            })
        } else {
            Batch::Decoded(Vec::with_capacity(capacity))
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Batch::Decoded(events) => events.len(),
            Batch::Stored(batch) => batch.rows.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&mut self, row: Stored<'_>, names: &mut Names) -> Result<(), StoreError> {
        match self {
            Batch::Decoded(events) => events.push(row.decode_with(names)?),
            Batch::Stored(batch) => batch.push(&row),
        }
        Ok(())
    }

    /// The batch's envelopes, decoding them here if they were not decoded yet.
    pub fn decode(self, names: &mut Names) -> Result<Vec<Envelope>, StoreError> {
        match self {
            Batch::Decoded(events) => Ok(events),
            Batch::Stored(batch) => batch.decode(names),
        }
    }
}

/// Room for the texts of one event of a [`StoredBatch`], reserved up front (most are smaller).
const TEXT_PER_EVENT: usize = 512;

/// Event rows copied out of the log undecoded: their texts one after another in one buffer.
pub struct StoredBatch {
    text: String,
    rows: Vec<StoredRow>,
}

/// Where a [`StoredBatch`] row's texts end in the buffer (project, queue, kind, client id,
/// payload); each starts where the one before ends.
struct StoredRow {
    seq: i64,
    recorded_at: i64,
    version: i64,
    has_client: bool,
    ends: [usize; 5],
}

impl StoredBatch {
    fn push(&mut self, row: &Stored<'_>) {
        let mut ends = [0; 5];
        let texts = [
            row.project,
            row.queue,
            row.kind,
            row.client_id.unwrap_or(""),
            row.payload,
        ];
        for (end, text) in ends.iter_mut().zip(texts) {
            self.text.push_str(text);
            *end = self.text.len();
        }
        self.rows.push(StoredRow {
            seq: row.seq,
            recorded_at: row.recorded_at,
            version: row.version,
            has_client: row.client_id.is_some(),
            ends,
        });
    }

    fn decode(self, names: &mut Names) -> Result<Vec<Envelope>, StoreError> {
        let mut start = 0;
        let mut events = Vec::with_capacity(self.rows.len());
        for row in &self.rows {
            let mut texts = [""; 5];
            for (text, end) in texts.iter_mut().zip(row.ends) {
                *text = &self.text[start..end];
                start = end;
            }
            let [project, queue, kind, client_id, payload] = texts;
            let stored = Stored {
                seq: row.seq,
                recorded_at: row.recorded_at,
                project,
                queue,
                kind,
                version: row.version,
                client_id: row.has_client.then_some(client_id),
                request_id: None,
                payload,
            };
            events.push(stored.decode_with(names)?);
        }
        Ok(events)
    }
}

/// Reads the events in `(after, last]` of every project in log order, on a synchronous
/// connection, and hands them to `each` in batches of `size`; for replay, which reads the
/// log on a thread of its own and has no use for request ids (the envelopes come without
/// them). `undecoded` is asked at the start of each batch whether to copy it out as stored
/// instead of decoding it (when the receiving thread is idle, it decodes the batch itself).
/// Fails if the log has a gap there (it never has one unless it was pruned meanwhile).
pub fn scan(
    conn: &rusqlite::Connection,
    after: i64,
    last: i64,
    size: usize,
    mut undecoded: impl FnMut() -> bool,
    mut each: impl FnMut(Batch) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq");
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([after, last])?;
    let mut expected = after + 1;
    let mut names = Names::default();
    let mut batch = Batch::new(size, undecoded());
    while let Some(row) = rows.next()? {
        // Replay needs no request ids.
        let stored = Stored {
            request_id: None,
            ..stored(row)?
        };
        if stored.seq != expected {
            return Err(StoreError::Corrupt(format!(
                "the log has no event at seq {expected} (next is {})",
                stored.seq
            )));
        }
        expected += 1;
        batch.push(stored, &mut names)?;
        if batch.len() == size {
            each(std::mem::replace(&mut batch, Batch::new(size, undecoded())))?;
        }
    }
    if !batch.is_empty() {
        each(batch)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch copied out undecoded decodes to the same envelopes as one decoded at once.
    #[test]
    fn stored_batches_decode_like_decoded_ones() {
        let payloads = [
            r#"{"type":"MessagesDeleted","ids":["0190c8b2-7a6c-7000-8000-000000000001"]}"#,
            r#"{"type":"QueueCreated","metadata":{"_default_message_ttl":60}}"#,
            r#"{"type":"ClaimReleased","claim_id":"0190c8b2-7a6c-7000-8000-0000000000ff"}"#,
        ];
        let rows = |i: usize| Stored {
            seq: i as i64 + 1,
            recorded_at: 1_000 + i as i64,
            project: ["p", "project-two", "p"][i],
            queue: ["q", "q", "other"][i],
            kind: ["MessagesDeleted", "QueueCreated", "ClaimReleased"][i],
            version: SCHEMA_VERSION,
            client_id: [Some("c"), None, Some("")][i],
            request_id: None,
            payload: payloads[i],
        };
        let mut names = Names::default();
        let mut decoded = Batch::new(3, false);
        let mut stored = Batch::new(3, true);
        for i in 0..3 {
            decoded.push(rows(i), &mut names).unwrap();
            stored.push(rows(i), &mut names).unwrap();
        }
        assert!(matches!(stored, Batch::Stored(_)));
        assert_eq!(stored.len(), 3);
        let expected = decoded.decode(&mut names).unwrap();
        assert_eq!(stored.decode(&mut Names::default()).unwrap(), expected);
        assert_eq!(expected[1].client_id, None);
        assert_eq!(expected[2].client_id.as_ref().map(|c| c.as_str()), Some(""));
    }
}
