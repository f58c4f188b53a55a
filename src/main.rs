//! The `cairn` binary: parses the command line and hands over to the library.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use cairn::app::{Server, Settings};
use cairn::config::{self, Command, Synchronous};
use cairn::model::SystemClock;
use cairn::store::StoreOptions;

/// mimalloc: many small, short-lived allocations on several threads (request bodies, JSON
/// values, rows) are measurably cheaper than with the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = match config::parse() {
        Ok(cli) => cli,
        Err(config::Unparsed::Shown(text)) => {
            print!("{text}");
            return Ok(ExitCode::SUCCESS);
        }
        Err(config::Unparsed::Invalid(message)) => {
            eprint!("{message}");
            std::process::exit(2);
        }
    };
    let args = match cli.command {
        Command::Serve(args) => args,
        Command::Replay(args) => return cairn::admin::replay(&args).await,
        Command::Verify(args) => return cairn::admin::verify(&args).await,
        Command::Bench(args) => return cairn::bench::command(&args).await,
        Command::KafkaMock(args) => return cairn::kafka::mock::serve(&args).await,
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log))
        .init();
    let settings = Settings {
        store: args.store_url(),
        store_options: StoreOptions {
            max_batch: args.max_batch,
            sync_full: args.synchronous == Synchronous::Full,
            readers: args.pool_size.max(1),
            statement_timeout: args.statement_timeout,
        },
        limits: args.limits.clone(),
        sweep_interval: Duration::from_secs(args.sweep_interval.max(1)),
        websocket: args.websocket(),
        event_retention: args.event_retention,
        notify: match args.notify() {
            Ok(notify) => notify,
            Err(message) => {
                eprintln!("error: {message}");
                std::process::exit(2);
            }
        },
        auth: match args.auth() {
            Ok(auth) => auth,
            Err(message) => {
                eprintln!("error: {message}");
                std::process::exit(2);
            }
        },
        cors: args.cors(),
        kafka: args.kafka(),
        admin_mode: args.admin_mode,
        connections: args.connections(),
    };
    match &settings.auth.keystone {
        None => tracing::warn!(
            "authentication is off (--auth none): requests are NOT authenticated, any client \
             can act as any project; use --auth keystone outside development"
        ),
        Some(keystone) => {
            tracing::info!(keystone = %keystone.url, "requests are authenticated by Keystone")
        }
    }
    let server = Server::open(&settings, Arc::new(SystemClock))
        .await
        .with_context(|| format!("opening the store {}", settings.store))?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    tracing::info!(address = %listener.local_addr()?, store = %settings.store, "cairn is serving");
    let websocket = match args.no_websocket {
        true => None,
        false => {
            let ws = tokio::net::TcpListener::bind(args.websocket_bind)
                .await
                .with_context(|| format!("binding {} (WebSocket)", args.websocket_bind))?;
            tracing::info!(address = %ws.local_addr()?, "WebSocket API listening");
            Some(ws)
        }
    };
    server.serve(listener, websocket, shutdown_signal()).await?;
    tracing::info!("cairn stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
