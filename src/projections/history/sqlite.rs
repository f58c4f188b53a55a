//! The `message_history` table: for every message, the log positions of the events that
//! concern it (posting, claims and their renewal, release and expiry, dead-lettering,
//! deletion, expiry, purge). Events about a claim or a whole queue are indexed against the
//! messages they touched at the time, so a message's history survives its deletion.
//!
//! One row per message: its positions, ascending and comma-separated, and the last of them.
//! The folds add positions with [`INSERT`] and [`ON_CONFLICT`] (a new row, or the positions
//! appended to the row); retention drops the rows whose last position it pruned. This file
//! holds the format, the fold's step ([`index`]) and the read ([`positions`]).

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::StoreError;
use crate::events::Envelope;
use crate::model::{ClaimId, MessageId};
use crate::projections::fold::Mentions;
use crate::projections::sqlite::rows::insert_rows;

/// The head of a statement adding positions to messages' rows: continue with `VALUES`
/// groups of `(message_id, seqs, last_seq)`, or a `SELECT … WHERE …` of them, then
/// [`ON_CONFLICT`]. `OR FAIL`: see the module doc of [`super`].
pub const INSERT: &str = "INSERT OR FAIL INTO message_history (message_id, seqs, last_seq)";

/// Appends the new positions to a message's existing row; positions at or before the row's
/// last are already there (an event is never indexed twice).
pub const ON_CONFLICT: &str = " ON CONFLICT (message_id) DO UPDATE
    SET seqs = seqs || ',' || excluded.seqs, last_seq = excluded.last_seq
    WHERE excluded.last_seq > last_seq";

/// Appends `seq` to a list of positions in the table's format.
pub fn push(list: &mut String, seq: i64) {
    if !list.is_empty() {
        list.push(',');
    }
    list.push_str(itoa::Buffer::new().format(seq));
}

/// The positions of a stored list.
pub fn parse(list: &str) -> Result<Vec<i64>, StoreError> {
    list.split(',')
        .map(|s| {
            s.parse()
                .map_err(|_| StoreError::Corrupt(format!("bad message history {list:?}")))
        })
        .collect()
}

/// The log positions of a message's events, in order.
pub fn positions(conn: &rusqlite::Connection, id: &MessageId) -> Result<Vec<i64>, StoreError> {
    let list: Option<String> = conn
        .prepare_cached("SELECT seqs FROM message_history WHERE message_id = ?1")?
        .query_row([id.as_str()], |r| r.get(0))
        .optional()?;
    list.map_or(Ok(Vec::new()), |l| parse(&l))
}

/// Fold step: indexes the event against the messages it mentions.
pub fn index(conn: &Connection, env: &Envelope, mentions: Mentions<'_>) -> Result<(), StoreError> {
    let ids = match mentions {
        Mentions::Messages(ids) => ids,
        Mentions::Claim(claim) => return history_of_claim(conn, claim, env.seq),
        Mentions::Queue => {
            let sql = format!(
                "{} SELECT id, CAST(?3 AS TEXT), ?3 FROM messages
                 WHERE project = ?1 AND queue = ?2{}",
                INSERT, ON_CONFLICT
            );
            conn.prepare_cached(&sql)?.execute(params![
                env.project.as_str(),
                env.queue.as_str(),
                env.seq
            ])?;
            return Ok(());
        }
        Mentions::Nothing => return Ok(()),
    };
    let seq = env.seq.to_string();
    insert_rows(
        conn,
        &format!("{} VALUES", INSERT),
        3,
        ON_CONFLICT,
        &ids,
        |p, id| {
            p.push(id.as_str())?;
            p.push(seq.as_str())?;
            p.push(env.seq)
        },
    )
}

fn history_of_claim(conn: &Connection, claim: &ClaimId, seq: i64) -> Result<(), StoreError> {
    let sql = format!(
        "{} SELECT id, CAST(?2 AS TEXT), ?2 FROM messages WHERE claim_id = ?1{}",
        INSERT, ON_CONFLICT
    );
    conn.prepare_cached(&sql)?
        .execute(params![claim.as_str(), seq])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip() {
        let mut list = String::new();
        for seq in [3, 17, 4_000_000_000] {
            push(&mut list, seq);
        }
        assert_eq!(list, "3,17,4000000000");
        assert_eq!(parse(&list).unwrap(), [3, 17, 4_000_000_000]);
        assert!(parse("3,,4").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn the_migration_gathers_each_messages_rows() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for sql in [
            include_str!("../../../migrations/sqlite/0001_initial.sql"),
            include_str!("../../../migrations/sqlite/0002_subscriptions.sql"),
            include_str!("../../../migrations/sqlite/0003_history.sql"),
            include_str!("../../../migrations/sqlite/0004_retention.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO message_events (message_id, seq)
             VALUES ('b', 12), ('a', 3), ('b', 2), ('a', 40), ('a', 7)",
        )
        .unwrap();
        conn.execute_batch(include_str!(
            "../../../migrations/sqlite/0005_history_rows.sql"
        ))
        .unwrap();
        let rows: Vec<(String, String, i64)> = conn
            .prepare("SELECT message_id, seqs, last_seq FROM message_history ORDER BY 1")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                ("a".into(), "3,7,40".into(), 40),
                ("b".into(), "2,12".into(), 12)
            ]
        );
    }
}
