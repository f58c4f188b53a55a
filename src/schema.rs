//! The database schemas, one set of migrations per SQL dialect (the files of
//! `migrations/sqlite` and `migrations/postgres`, compiled into the binary), and the
//! migrator that applies them. The log's tables and the read models' tables alike: every
//! layer that opens a database starts here.

/// The schema, one entry per file of `migrations/sqlite`, compiled into the binary.
pub const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "subscriptions",
        include_str!("../migrations/sqlite/0002_subscriptions.sql"),
    ),
    (
        3,
        "history",
        include_str!("../migrations/sqlite/0003_history.sql"),
    ),
    (
        4,
        "retention",
        include_str!("../migrations/sqlite/0004_retention.sql"),
    ),
    (
        5,
        "history rows",
        include_str!("../migrations/sqlite/0005_history_rows.sql"),
    ),
    (
        6,
        "bodies in the log",
        include_str!("../migrations/sqlite/0006_bodies_in_log.sql"),
    ),
    (
        7,
        "notifier",
        include_str!("../migrations/sqlite/0007_notifier.sql"),
    ),
    (
        8,
        "catalogue",
        include_str!("../migrations/sqlite/0008_catalogue.sql"),
    ),
];

/// The schema, one entry per file of `migrations/postgres`, compiled into the binary.
pub const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "notifier",
        include_str!("../migrations/postgres/0002_notifier.sql"),
    ),
    (
        3,
        "catalogue",
        include_str!("../migrations/postgres/0003_catalogue.sql"),
    ),
];

/// A migrator running `migrations` (version, name, SQL), in order, each once: the schema of
/// a backend, as its `migrations/<backend>` files compiled into the binary.
pub fn migrator(migrations: &[(i64, &'static str, &'static str)]) -> sqlx::migrate::Migrator {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    let migrations = migrations
        .iter()
        .map(|(version, name, sql)| {
            Migration::new(
                *version,
                (*name).into(),
                MigrationType::Simple,
                (*sql).into(),
                false,
            )
        })
        .collect::<Vec<_>>();
    Migrator {
        migrations: migrations.into(),
        ..Migrator::DEFAULT
    }
}
