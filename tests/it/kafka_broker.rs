//! The Kafka event stream against a real Kafka-protocol broker: Tansu (from the Rust
//! registry, installed by `tests/tansu/setup.sh`), on its SQLite storage engine in a
//! temporary directory. Tansu 0.6 answers no `EndTxn`, so the relay runs with the idempotent
//! producer alone (`--kafka-transactions false`); a SIGKILL mid-stream still leaves each
//! event in the topic exactly once, and replay from the topic rebuilds a store that
//! verifies. The broker is required: without it the test fails.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common;
use crate::common::audit::{assert_exit, cairn, path_str};
use crate::common::kafka::{assert_exactly_once, gauge, read_topic, wait_caught_up, TOPIC};
use crate::common::process::{free_port, Cairn};

/// A Tansu broker, stopped when dropped.
struct Tansu {
    child: Child,
    brokers: String,
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tansu_binary() -> std::path::PathBuf {
    if let Ok(path) = std::env::var("CAIRN_TANSU") {
        return path.into();
    }
    crate::common::cache_dir().join("tansu/bin/tansu")
}

impl Tansu {
    fn start(dir: &std::path::Path) -> Tansu {
        let binary = tansu_binary();
        assert!(
            binary.exists(),
            "no Tansu broker at {}: run tests/tansu/setup.sh (scripts/test does)",
            binary.display()
        );
        let port = free_port();
        let listener = format!("tcp://127.0.0.1:{port}");
        let log = std::fs::File::create(dir.join("tansu.log")).unwrap();
        let child = Command::new(binary)
            .arg("broker")
            .arg("--listener-url")
            .arg(&listener)
            .arg("--advertised-listener-url")
            .arg(&listener)
            .arg("--storage-engine")
            // Tansu takes the path relative to its working directory.
            .arg("sqlite://tansu.db")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("tansu starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Tansu {
            child,
            brokers: format!("127.0.0.1:{port}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_real_broker_gets_each_event_once_across_a_sigkill_and_replay_rebuilds_from_it() {
    let broker_dir = tempfile::tempdir().unwrap();
    let tansu = Tansu::start(broker_dir.path());
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--data-dir",
        path_str(dir.path()),
        "--kafka-brokers",
        &tansu.brokers,
        "--kafka-partitions",
        "3",
        "--kafka-batch",
        "10",
        // Tansu 0.6 has no EndTxn: the idempotent producer alone, and the partition tails.
        "--kafka-transactions",
        "false",
    ];
    let server = Cairn::start(&args).await;
    let acked = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..3)
        .map(|p| {
            tokio::spawn(common::kafka::producer(
                server.base.clone(),
                p,
                acked.clone(),
                150,
            ))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let published = gauge(&server.base, "cairn_kafka_relay_published_seq")
            .await
            .unwrap_or(0);
        if published > 50 && acked.load(Ordering::SeqCst) > 100 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the relay published nothing to tansu (see {})",
            broker_dir.path().join("tansu.log").display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    for p in producers {
        p.await.unwrap();
    }
    let server = Cairn::start(&args).await;
    let last = wait_caught_up(&server.base, Duration::from_secs(60)).await;
    drop(server);
    let brokers = tansu.brokers.clone();
    let records = tokio::task::spawn_blocking(move || read_topic(&brokers, TOPIC))
        .await
        .unwrap();
    assert_exactly_once(&records, last);

    let into = tempfile::tempdir().unwrap();
    let rebuilt = into.path().join("rebuilt");
    let url = format!("kafka://{}/{TOPIC}", tansu.brokers);
    let out = cairn(&[
        "replay",
        "--from",
        &url,
        "--into",
        path_str(&rebuilt),
        "--quiet",
    ]);
    assert_exit(&out, 0, "replay --from a real broker");
    let out = cairn(&["verify", "--data-dir", path_str(&rebuilt), "--quiet"]);
    assert_exit(&out, 0, "verify of the store rebuilt from the broker");
}
