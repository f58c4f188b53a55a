//! Multi-row statements: many rows of one table inserted by one statement, their values
//! bound in place. The fold inserts a post's messages and an event's history rows this way,
//! and the rebuild's window everything it writes out.

use rusqlite::{Connection, Statement, ToSql};

use crate::error::StoreError;

/// Rows per multi-row statement (at most 16 parameters a row, under SQLite's limit).
pub const ROWS_PER_STATEMENT: usize = 500;

/// Binds consecutive parameters of a statement.
pub struct Params<'s, 'c> {
    stmt: &'s mut Statement<'c>,
    next: usize,
}

impl Params<'_, '_> {
    pub fn push(&mut self, value: impl ToSql) -> rusqlite::Result<()> {
        self.next += 1;
        self.stmt.raw_bind_parameter(self.next, value)
    }
}

/// Inserts `items` with `head` followed by one group of `width` parameters per item, bound
/// by `bind`, and then `tail`, [`ROWS_PER_STATEMENT`] rows per statement.
pub fn insert_rows<T>(
    conn: &Connection,
    head: &str,
    width: usize,
    tail: &str,
    items: &[T],
    mut bind: impl FnMut(&mut Params, &T) -> rusqlite::Result<()>,
) -> Result<(), StoreError> {
    let group = format!("({})", vec!["?"; width].join(", "));
    for chunk in items.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "{head} {}{tail}",
            vec![group.as_str(); chunk.len()].join(", ")
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut params = Params {
            stmt: &mut stmt,
            next: 0,
        };
        for item in chunk {
            bind(&mut params, item)?;
        }
        stmt.raw_execute()?;
    }
    Ok(())
}
