//! The real `cairn` binary as a child process, for crash and multi-node tests.

use std::ffi::OsStr;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Client;

/// A running `cairn serve`, killed when dropped so a failing test leaves no process behind.
pub struct Cairn {
    child: Child,
    pub base: String,
}

impl Cairn {
    /// Starts `cairn serve` on a free port with the given extra arguments (the store) and
    /// waits (at most 20 s) until it answers ping.
    pub async fn start<S: AsRef<OsStr>>(args: &[S]) -> Cairn {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .arg("serve")
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--websocket-bind")
            .arg("127.0.0.1:0")
            .arg("--log")
            .arg("warn")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the cairn binary starts");
        let mut cairn = Cairn {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        cairn.wait_for_ping().await;
        cairn
    }

    async fn wait_for_ping(&mut self) {
        let probe = Client::new(&self.base, &super::new_uuid(), "probe");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                panic!("cairn exited before answering ping: {status}");
            }
            let ping = probe.request(reqwest::Method::GET, "/v2/ping");
            if let Ok(Ok(r)) = tokio::time::timeout(Duration::from_secs(2), ping.send()).await {
                if r.status().as_u16() == 204 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "cairn did not answer ping within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL (on unix, `Child::kill` sends SIGKILL), then reap the process.
    pub fn kill(mut self) {
        self.child.kill().expect("kill cairn");
        self.child.wait().expect("reap cairn");
    }
}

impl Drop for Cairn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("an ephemeral port")
        .port()
}
