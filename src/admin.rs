//! Offline commands on a store: `replay` (rebuild read models, or build a past state into a
//! new data directory) and `verify` (compare the read models with a replay of the log).
//! They print a progress bar and a summary; they never run inside the server.

use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{ReplayArgs, ReplayUntil, VerifyArgs};
use crate::events::store::sqlite::rebuild::{self, Until};
use crate::events::store::{postgres, StoreUrl};

fn bar(quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} events ({per_sec}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// `cairn replay`.
pub async fn replay(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let bar = bar(args.quiet);
    let mut total = |n| bar.set_length(n);
    let mut progress = |n| bar.inc(n);
    let path = match args.source.store_url() {
        StoreUrl::Sqlite(path) => path,
        StoreUrl::Postgres(url) => {
            anyhow::ensure!(
                args.into.is_none() && args.until.is_none(),
                "on PostgreSQL, replay rebuilds in place only (no --into or --until yet)"
            );
            let summary = postgres::rebuild::in_place(&url, &mut total, &mut progress).await?;
            bar.finish_and_clear();
            print_replayed(&summary, "the PostgreSQL read models");
            return Ok(ExitCode::SUCCESS);
        }
    };
    anyhow::ensure!(path.exists(), "no store at {}", path.display());
    let summary = match &args.into {
        None => rebuild::in_place(&path, &mut total, &mut progress).await?,
        Some(dir) => {
            let until = match args.until {
                None => Until::End,
                Some(ReplayUntil::Seq(seq)) => Until::Seq(seq),
                Some(ReplayUntil::Time(t)) => Until::Time(t),
            };
            rebuild::into(
                &path,
                &dir.join("cairn.db"),
                until,
                &mut total,
                &mut progress,
            )
            .await?
        }
    };
    bar.finish_and_clear();
    let target = args
        .into
        .as_ref()
        .map_or(path.to_path_buf(), |d| d.join("cairn.db"));
    print_replayed(&summary, &target.display().to_string());
    Ok(ExitCode::SUCCESS)
}

fn print_replayed(summary: &rebuild::Summary, target: &str) {
    println!(
        "replayed {} events (up to seq {}) into {target} in {:.2} s: {:.0} events/s",
        summary.events,
        summary.last_seq,
        summary.seconds,
        summary.events_per_second()
    );
}

/// `cairn verify`.
pub async fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let bar = bar(args.quiet);
    let mut total = |n| bar.set_length(n);
    let mut progress = |n| bar.inc(n);
    let (summary, divergences) = match args.source.store_url() {
        StoreUrl::Sqlite(path) => {
            anyhow::ensure!(path.exists(), "no store at {}", path.display());
            let scratch = std::env::temp_dir();
            rebuild::verify(&path, &scratch, &mut total, &mut progress).await?
        }
        StoreUrl::Postgres(url) => {
            postgres::rebuild::verify(&url, &mut total, &mut progress).await?
        }
    };
    bar.finish_and_clear();
    for d in &divergences {
        println!(
            "DIVERGENCE {}: {} only in the {} read model",
            d.table, d.key, d.side
        );
    }
    println!(
        "verified {} events (up to seq {}) in {:.2} s ({:.0} events/s): {}",
        summary.events,
        summary.last_seq,
        summary.seconds,
        summary.events_per_second(),
        if divergences.is_empty() {
            "read models match the log".to_owned()
        } else {
            format!("{} divergent rows", divergences.len())
        }
    );
    Ok(if divergences.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
