//! Offline commands on a store: `replay` (rebuild read models, build a past state into a
//! new data directory, or build a store from the Kafka event stream) and `verify` (compare the read models with a replay of the log).
//! They print a progress bar and a summary; they never run inside the server.

use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{ReplayArgs, ReplayUntil, VerifyArgs};
use crate::store::sqlite::rebuild::{self, Until};
use crate::store::{postgres, Progress, StoreUrl};

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

/// A progress bar follows a replay or a verify.
impl Progress for ProgressBar {
    fn total(&mut self, n: u64) {
        self.set_length(n);
    }

    fn done(&mut self, n: u64) {
        self.inc(n);
    }
}

/// `cairn replay`.
pub async fn replay(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    if let (Some(from), Some(into)) = (&args.from, &args.into) {
        return replay_from_kafka(from, &args.kafka_options, into, args.quiet).await;
    }
    let bar = bar(args.quiet);
    let mut progress = bar.clone();
    let path = match args.source.store_url() {
        StoreUrl::Sqlite(path) => path,
        StoreUrl::Postgres(url) => {
            anyhow::ensure!(
                args.into.is_none() && args.until.is_none(),
                "on PostgreSQL, replay rebuilds in place only (no --into or --until yet)"
            );
            let summary = postgres::rebuild::in_place(&url, &mut progress).await?;
            bar.finish_and_clear();
            print_replayed(&summary, "the PostgreSQL read models");
            return Ok(ExitCode::SUCCESS);
        }
    };
    anyhow::ensure!(path.exists(), "no store at {}", path.display());
    let summary = match &args.into {
        None => rebuild::in_place_windowed(&path, args.window, &mut progress).await?,
        Some(dir) => {
            let until = match args.until {
                None => Until::End,
                Some(ReplayUntil::Seq(seq)) => Until::Seq(seq),
                Some(ReplayUntil::Time(t)) => Until::Time(t),
            };
            rebuild::into(&path, &dir.join("cairn.db"), until, &mut progress).await?
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

/// `cairn replay --from kafka://BROKERS/TOPIC --into DIR`: a new store whose log is the
/// topic's events and whose read models are folded from it.
async fn replay_from_kafka(
    from: &crate::kafka::TopicUrl,
    options: &[(String, String)],
    into: &std::path::Path,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let mut importer = rebuild::Importer::create(&into.join("cairn.db")).await?;
    let config = crate::kafka::client_config(&from.brokers, &[], options);
    let topic = from.topic.clone();
    let reading = bar(quiet);
    let read_bar = reading.clone();
    let (importer, read, duplicates) = tokio::task::spawn_blocking(move || {
        let mut total = |n| read_bar.inc_length(n);
        let mut progress = |n| read_bar.inc(n);
        let mut duplicates = 0u64;
        let read = crate::kafka::topic::read(
            &config,
            &topic,
            std::time::Duration::from_secs(30),
            &mut total,
            &mut progress,
            &mut |env| match importer.add(&env) {
                Ok(added) => {
                    duplicates += u64::from(!added);
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            },
        );
        (importer, read, duplicates)
    })
    .await?;
    let read = read.map_err(|e| anyhow::anyhow!(e))?;
    reading.finish_and_clear();
    let (path, last) = importer.finish()?;
    let bar = bar(quiet);
    let summary = rebuild::in_place(&path, &mut bar.clone()).await?;
    bar.finish_and_clear();
    println!(
        "read {} events from kafka://{}/{} ({} duplicates{}), up to seq {last}",
        read.events,
        from.brokers,
        from.topic,
        duplicates,
        match read.foreign {
            0 => String::new(),
            n => format!(", {n} records of other producers skipped"),
        }
    );
    print_replayed(
        &rebuild::Summary {
            seconds: started.elapsed().as_secs_f64(),
            ..summary
        },
        &path.display().to_string(),
    );
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
    let mut progress = bar.clone();
    let (summary, divergences) = match args.source.store_url() {
        StoreUrl::Sqlite(path) => {
            anyhow::ensure!(path.exists(), "no store at {}", path.display());
            let scratch = std::env::temp_dir();
            rebuild::verify(&path, &scratch, &mut progress).await?
        }
        StoreUrl::Postgres(url) => postgres::rebuild::verify(&url, &mut progress).await?,
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
