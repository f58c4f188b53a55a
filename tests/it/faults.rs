//! Faults from outside the server: the disk fills up under it (a small tmpfs of its own,
//! mounted by the test), and it is killed with SIGKILL in the middle of a replay. Each
//! time, nothing acknowledged is lost and the store is consistent afterwards
//! (`cairn verify` passes). The tmpfs needs root, as on the machines the suite runs on;
//! where it cannot be mounted the test fails, saying so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::common::audit::{assert_exit, cairn_verify, path_str};
use crate::common::process::Cairn;
use crate::common::{last_segment, new_uuid, Client};

/// A tmpfs of `megabytes` mounted on a fresh folder, unmounted when dropped.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> SmallDisk {
        let dir = std::env::temp_dir().join(format!("cairn-full-{}", new_uuid()));
        std::fs::create_dir_all(&dir).expect("a mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&dir)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs and needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk { dir }
    }

    /// Grows (or shrinks) the filesystem in place.
    fn resize(&self, megabytes: u32) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={megabytes}m")])
            .arg(&self.dir)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn batch(round: usize) -> serde_json::Value {
    let body = "x".repeat(1000);
    json!({"messages": (0..10).map(|i| json!({"body": {"n": round * 10 + i, "pad": body}, "ttl": 3600}))
        .collect::<Vec<_>>()})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_with_503_and_the_node_recovers_when_space_returns() {
    let disk = SmallDisk::mount(6);
    let data = disk.path().join("data");
    let cairn = Cairn::start(&["--data-dir", path_str(&data)]).await;
    let c = Client::new(&cairn.base, &new_uuid(), "full");

    // Post until the disk is full; remember every id acknowledged.
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for round in 0..5000 {
        let r = c.post("/v2/queues/q/messages", &batch(round)).await;
        match r.status {
            201 => acknowledged.extend(
                r.body["resources"]
                    .as_array()
                    .expect("resources")
                    .iter()
                    .map(|h| last_segment(h.as_str().unwrap()).to_owned()),
            ),
            _ => {
                refused = Some(r);
                break;
            }
        }
    }
    let refused = refused.expect("the disk fills up within 5,000 posts");
    refused.expect_error(503, "Service temporarily unavailable");
    assert!(acknowledged.len() > 100, "some posts succeeded first");
    // Reads still answer while the disk is full.
    c.get("/v2/queues/q/stats").await.expect(200);

    // Space returns: writes succeed again, without a restart.
    disk.resize(64);
    let mut recovered = false;
    for round in 0..100 {
        let r = c
            .post("/v2/queues/q/messages", &batch(100_000 + round))
            .await;
        if r.status == 201 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "posts succeed again once there is space");

    // Nothing acknowledged was lost.
    for chunk in acknowledged.chunks(20) {
        let r = c
            .get(&format!("/v2/queues/q/messages?ids={}", chunk.join(",")))
            .await;
        r.expect(200);
        assert_eq!(
            r.messages().len(),
            chunk.len(),
            "every acknowledged message is kept"
        );
    }
    cairn.kill();
    assert_exit(&cairn_verify(&data), 0, "verify after the disk filled up");
}

/// Posts `rounds` batches of 10 to three queues; returns how many each queue got.
async fn fill(c: &Client, rounds: usize) -> [usize; 3] {
    let mut counts = [0; 3];
    for round in 0..rounds {
        let q = round % 3;
        c.post(&format!("/v2/queues/q{q}/messages"), &batch(round))
            .await
            .expect(201);
        counts[q] += 10;
    }
    counts
}

/// Every queue shows exactly the messages acknowledged.
async fn assert_counts(c: &Client, counts: [usize; 3], when: &str) {
    for (q, expected) in counts.iter().enumerate() {
        let stats = c.get(&format!("/v2/queues/q{q}/stats")).await;
        assert_eq!(
            stats.body["messages"]["total"], *expected,
            "queue q{q} {when}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_killed_midway_is_finished_by_the_next_start() {
    let dir = tempfile::tempdir().expect("a data directory");
    let data = dir.path().to_path_buf();
    let cairn = Cairn::start(&["--data-dir", path_str(&data)]).await;
    let c = Client::new(&cairn.base, &new_uuid(), "replayed");
    let counts = fill(&c, 300).await;
    cairn.kill();

    // Replays that commit every 200 rows, killed at once when their first commits show
    // (the read models lag the log), and after fixed delays: some end before their first
    // commit, some in the middle, some finish. Watching for the lag keeps the midway kills
    // however fast the replay runs on a busy machine.
    let mut interrupted_midway = 0;
    for kill in [None, Some(20u64), None, Some(350), None, Some(5_000)] {
        let mut replay = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args([
                "replay",
                "--data-dir",
                path_str(&data),
                "--quiet",
                "--window",
                "200",
            ])
            .env_remove("CAIRN_DATA_DIR")
            .env_remove("CAIRN_STORE")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("cairn replay starts");
        let started = std::time::Instant::now();
        let deadline = Duration::from_millis(kill.unwrap_or(30_000));
        while started.elapsed() < deadline && replay.try_wait().expect("status").is_none() {
            if kill.is_none() && lagging(&data) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let finished = replay.try_wait().expect("replay status").is_some();
        let _ = replay.kill();
        let _ = replay.wait();
        if !finished && lagging(&data) {
            interrupted_midway += 1;
        }
        // The next start serves every acknowledged message, and the store verifies.
        let cairn = Cairn::start(&["--data-dir", path_str(&data)]).await;
        let c = Client::new(&cairn.base, &new_uuid(), "replayed");
        let when = format!("after a replay killed ({kill:?} ms, None: when it lagged)");
        assert_counts(&c, counts, &when).await;
        cairn.kill();
        assert_exit(&cairn_verify(&data), 0, "verify after a killed replay");
    }
    assert!(
        interrupted_midway > 0,
        "at least one replay was killed between two of its commits"
    );
}

/// Whether the read models of the store in `data` lag its log (a replay stopped midway).
fn lagging(data: &Path) -> bool {
    let conn = rusqlite::Connection::open(data.join("cairn.db")).expect("the store opens");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("a busy timeout");
    let head: i64 = conn
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))
        .expect("the log head");
    let folded: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM projection_checkpoints",
            [],
            |r| r.get(0),
        )
        .expect("the checkpoint");
    folded < head
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_while_it_prunes_its_log_restarts_consistent() {
    let dir = tempfile::tempdir().expect("a data directory");
    let data = dir.path().to_path_buf();
    let args = [
        "--data-dir",
        path_str(&data),
        "--event-retention",
        "1s",
        "--sweep-interval",
        "1",
    ];
    let mut counts = [0usize; 3];
    // Each cycle posts for a while, during which the sweeper snapshots the read models and
    // prunes the log every second, and is then killed at a moment unrelated to the prunes.
    for (cycle, millis) in [1_300u64, 2_100, 1_700, 2_600].into_iter().enumerate() {
        let cairn = Cairn::start(&args).await;
        let c = Client::new(&cairn.base, &new_uuid(), "pruned");
        let until = std::time::Instant::now() + Duration::from_millis(millis);
        let mut round = cycle * 100_000;
        while std::time::Instant::now() < until {
            let q = round % 3;
            c.post(&format!("/v2/queues/q{q}/messages"), &batch(round))
                .await
                .expect(201);
            counts[q] += 10;
            round += 1;
        }
        cairn.kill();
        assert_exit(&cairn_verify(&data), 0, "verify after a kill while pruning");
    }
    let conn = rusqlite::Connection::open(data.join("cairn.db")).expect("the store opens");
    let horizon: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(value), 0) FROM log_meta WHERE key = 'horizon'",
            [],
            |r| r.get(0),
        )
        .expect("the horizon");
    drop(conn);
    assert!(horizon > 0, "the log was pruned meanwhile");
    let cairn = Cairn::start(&args).await;
    let c = Client::new(&cairn.base, &new_uuid(), "pruned");
    assert_counts(&c, counts, "after kills while pruning").await;
    cairn.kill();
}
