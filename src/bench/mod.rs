//! `cairn bench`: a load generator modelled on Zaqar's `zaqar-bench`. Producers post batches
//! of messages, consumers claim messages and delete them by ids, observers list messages;
//! each worker holds one keep-alive HTTP connection or one WebSocket connection, and every
//! loop stops by itself at the end of `--duration`. The report gives, per role, messages/s,
//! requests/s, errors and latency percentiles, then a self-check: every message a consumer
//! received was posted by a producer of this run, and none was received twice.
//!
//! [`run`] is the library entry (the smoke test calls it); [`command`] is the subcommand.
//! Only ever point it at a server you run yourself.

mod check;
mod http;
mod report;
mod request;
mod workload;
mod ws;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Serialize;

pub use check::Check;
pub use report::{Latency, OpReport, Report, RoleReport};

/// How the workers talk to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// REST over keep-alive HTTP/1.1 connections.
    Http,
    /// The WebSocket API.
    Ws,
}

/// How WebSocket frames are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// JSON in text frames.
    Json,
    /// MessagePack in binary frames.
    Msgpack,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Ws => "ws",
        }
    }
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::Json => "json",
            Codec::Msgpack => "msgpack",
        }
    }
}

/// What to run. [`Options::default`] matches the command-line defaults.
#[derive(Debug, Clone, PartialEq, Args, Serialize)]
pub struct Options {
    /// Base URL of the REST API; several, comma-separated, spread the workers over the
    /// nodes of one service.
    #[arg(long, default_value = "http://127.0.0.1:8888")]
    pub url: String,
    /// URL of the WebSocket API (used with `--transport ws`); several, comma-separated.
    #[arg(long, default_value = "ws://127.0.0.1:9000")]
    pub ws_url: String,
    /// `http` (REST) or `ws` (WebSocket).
    #[arg(long, value_enum, default_value = "http")]
    pub transport: Transport,
    /// Frame encoding over WebSocket: `json` (text) or `msgpack` (binary).
    #[arg(long, value_enum, default_value = "json")]
    pub codec: Codec,
    /// Producer workers (each posts batches of messages).
    #[arg(long, default_value_t = 2)]
    pub producers: usize,
    /// Consumer workers (each claims messages, then deletes them by ids).
    #[arg(long, default_value_t = 2)]
    pub consumers: usize,
    /// Observer workers (each lists messages).
    #[arg(long, default_value_t = 1)]
    pub observers: usize,
    /// Size of each message body in bytes (a JSON object padded to about this size).
    #[arg(long, default_value_t = 1024)]
    pub message_size: usize,
    /// Messages per post.
    #[arg(long, default_value_t = 10)]
    pub batch: usize,
    /// Most messages per claim.
    #[arg(long, default_value_t = 10)]
    pub claim_limit: usize,
    /// Queues (`bench-0` … `bench-<N-1>`); workers are spread over them round-robin.
    #[arg(long, default_value_t = 1)]
    pub queues: usize,
    /// Seconds of load; every worker stops starting requests after this.
    #[arg(long, default_value_t = 10.0, value_parser = positive_seconds)]
    pub duration: f64,
    /// Messages posted to each queue before the clock starts (not measured; consumers
    /// then have something to claim without producers).
    #[arg(long, default_value_t = 0)]
    pub prefill: usize,
    /// Most iterations per second of each worker (a post; a claim and its delete; a list),
    /// to measure latency at a given load; 0 runs unpaced, as fast as answers come.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Project (`X-Project-ID`); default a fresh `bench-<uuid>` per run, so the queues
    /// start empty and the self-check sees only this run's messages.
    #[arg(long)]
    pub project: Option<String>,
    /// Subscribe a webhook to every queue before the clock starts: `URL/<queue>` (for
    /// measuring posts under notification delivery; `examples/webhook_sink` receives them).
    #[arg(long)]
    pub subscriber: Option<String>,
    /// A Keystone token sent as `X-Auth-Token` on every HTTP request (for a server with
    /// `--auth keystone`; over WebSocket, not supported yet).
    #[arg(long, env = "CAIRN_BENCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            url: "http://127.0.0.1:8888".into(),
            ws_url: "ws://127.0.0.1:9000".into(),
            transport: Transport::Http,
            codec: Codec::Json,
            producers: 2,
            consumers: 2,
            observers: 1,
            message_size: 1024,
            batch: 10,
            claim_limit: 10,
            queues: 1,
            duration: 10.0,
            prefill: 0,
            rate: 0.0,
            project: None,
            subscriber: None,
            token: None,
        }
    }
}

/// Longest run, in seconds.
const MAX_DURATION: f64 = 43_000.0;

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        // Claims last the run plus 60 s, and Zaqar's longest claim is 43,200 s.
        Ok(secs) if secs > 0.0 && secs <= MAX_DURATION => Ok(secs),
        _ => Err(format!(
            "{text:?} is not a number of seconds in (0, {MAX_DURATION}]"
        )),
    }
}

impl Options {
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.producers + self.consumers + self.observers > 0,
            "nothing to run: give --producers, --consumers or --observers"
        );
        anyhow::ensure!(self.batch > 0, "--batch must be at least 1");
        anyhow::ensure!(self.claim_limit > 0, "--claim-limit must be at least 1");
        anyhow::ensure!(self.queues > 0, "--queues must be at least 1");
        anyhow::ensure!(
            self.rate.is_finite() && self.rate >= 0.0,
            "--rate must be a number of iterations per second, or 0"
        );
        positive_seconds(&self.duration.to_string()).map_err(anyhow::Error::msg)?;
        anyhow::ensure!(
            self.transport == Transport::Ws || self.codec == Codec::Json,
            "--codec msgpack needs --transport ws"
        );
        Ok(())
    }

    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration)
    }
}

/// `cairn bench` on the command line: the options plus the report format.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub options: Options,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs the load described by `options` and returns its report; `Err` only when the run
/// could not start (server unreachable, queues not created, bad options).
pub async fn run(options: Options) -> anyhow::Result<Report> {
    options.validate()?;
    workload::run(options).await
}

/// `cairn bench`: prints the report; exits 1 when the self-check found a violation.
pub async fn command(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let o = &args.options;
    eprintln!(
        "cairn bench: producers={} consumers={} observers={} over {} for {} s…",
        o.producers,
        o.consumers,
        o.observers,
        match o.transport {
            Transport::Http => o.url.clone(),
            Transport::Ws => format!("{} ({})", o.ws_url, o.codec.name()),
        },
        o.duration
    );
    let report = run(args.options.clone()).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(if report.check.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        options: Options,
    }

    #[test]
    fn defaults_match_the_command_line() {
        assert_eq!(Cli::parse_from(["bench"]).options, Options::default());
    }

    #[test]
    fn options_are_checked() {
        let msgpack_over_http = Options {
            codec: Codec::Msgpack,
            ..Options::default()
        };
        assert!(msgpack_over_http.validate().is_err());
        let nobody = Options {
            producers: 0,
            consumers: 0,
            observers: 0,
            ..Options::default()
        };
        assert!(nobody.validate().is_err());
        assert!(positive_seconds("0").is_err());
        assert_eq!(positive_seconds("2.5"), Ok(2.5));
    }
}
