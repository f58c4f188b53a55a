//! A PostgreSQL server of the test's own: `initdb` in a temporary folder and `pg_ctl` from
//! the machine's PostgreSQL installation, on a free port of 127.0.0.1. A test may crash and
//! restart it without cutting the machine's server, which the other tests share.
//!
//! PostgreSQL refuses to run as root; under root the commands run as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PgCluster {
    /// Creates and starts a cluster (trust authentication, user `postgres`).
    pub fn start() -> PgCluster {
        let bin = bin_dir();
        let as_postgres = is_root();
        let dir = tempfile::tempdir().expect("a temporary folder for the cluster");
        if as_postgres {
            run(Command::new("chown").args(["-R", "postgres:", &path(dir.path())]));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = PgCluster {
            dir,
            bin,
            port,
            as_postgres,
        };
        cluster.command(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ],
        );
        cluster.start_again();
        cluster
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server as a crash would: no shutdown checkpoint; the next start recovers
    /// from the write-ahead log.
    pub fn crash(&self) {
        self.command(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    /// Starts the (stopped) server and waits until it accepts connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            path(self.dir.path())
        );
        let log = format!("{}/server.log", path(self.dir.path()));
        self.command(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
    }

    fn data(&self) -> String {
        format!("{}/data", path(self.dir.path()))
    }

    fn command(&self, program: &str, args: &[&str]) -> Output {
        let program = self.bin.join(program);
        let mut command = match self.as_postgres {
            true => {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(&program);
                c
            }
            false => Command::new(&program),
        };
        // The folder is the working directory: `postgres` may not enter the test's own.
        command.args(args).current_dir(self.dir.path());
        run(&mut command)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let program = self.bin.join("pg_ctl");
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = match self.as_postgres {
            true => Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .current_dir(self.dir.path())
                .output(),
            false => Command::new(&program).args(args).output(),
        };
    }
}

/// Where the server's programs are (`pg_config --bindir`).
fn bin_dir() -> PathBuf {
    let out = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .expect("pg_config runs: the machine's PostgreSQL installation is needed");
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        dir.join("initdb").exists() && dir.join("pg_ctl").exists(),
        "initdb and pg_ctl are not in {} (pg_config --bindir)",
        dir.display()
    );
    dir
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

fn path(p: &Path) -> String {
    p.to_str().expect("a UTF-8 path").to_owned()
}

fn run(command: &mut Command) -> Output {
    let out = command.output().expect("the command starts");
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
