//! `cairn kafka-mock`: librdkafka's mock cluster as a process of its own, for trying the
//! event stream and for benchmarks without a Kafka installation. It keeps everything in
//! memory and forgets it on exit: not a broker to keep data in.

use std::process::ExitCode;

use rdkafka::mocking::MockCluster;

/// `cairn kafka-mock`.
#[derive(Debug, clap::Args)]
pub struct MockArgs {
    /// Brokers in the cluster.
    #[arg(long, default_value_t = 3)]
    pub brokers: i32,
    /// Create this topic at start (otherwise the relay creates its own).
    #[arg(long)]
    pub topic: Option<String>,
    /// Partitions of `--topic`.
    #[arg(long, default_value_t = 6)]
    pub partitions: i32,
}

/// Runs a mock cluster until interrupted, printing its bootstrap servers on the first line
/// of standard output.
pub async fn serve(args: &MockArgs) -> anyhow::Result<ExitCode> {
    let cluster = MockCluster::new(args.brokers.max(1))?;
    if let Some(topic) = &args.topic {
        cluster.create_topic(topic, args.partitions.max(1), args.brokers.clamp(1, 3))?;
    }
    println!("{}", cluster.bootstrap_servers());
    use std::io::Write as _;
    std::io::stdout().flush()?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    drop(cluster);
    Ok(ExitCode::SUCCESS)
}
