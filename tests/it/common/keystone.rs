//! A real Keystone for the authentication tests: `tests/keystone/serve.py` (Keystone from
//! PyPI on SQLite, served by gunicorn on 127.0.0.1) started once per test binary, with its
//! fixtures (projects alpha and beta; alice member of alpha, bob member of beta, root admin
//! of alpha, carol reader of alpha; cairn, the service user). It stops when the test
//! binary exits (its standard input closes). Without its venv
//! (`tests/keystone/setup.sh`), the tests fail; they never skip.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use cairn::auth::keystone::{KeystoneSettings, ServiceCredentials};
use cairn::model::{ManualClock, Timestamp};
use serde_json::{json, Value};

/// A running Keystone and what its fixtures are called.
pub struct Keystone {
    pub url: String,
    pub password: String,
    pub fixtures: Value,
    _child: Mutex<Child>,
}

static SHARED: OnceLock<Keystone> = OnceLock::new();

/// Keystone's tokens expire in real time: servers that use it get a clock starting now.
pub fn real_clock() -> ManualClock {
    ManualClock::starting_at(wall_clock())
}

/// The machine's time.
pub fn wall_clock() -> Timestamp {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    Timestamp(now.as_millis() as i64)
}

/// The venv of `tests/keystone/setup.sh`.
fn python() -> PathBuf {
    let venv = std::env::var_os("CAIRN_KEYSTONE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::cache_dir().join("keystone-venv"));
    venv.join("bin/python")
}

impl Keystone {
    /// The Keystone shared by this test binary (started on first use).
    pub fn shared() -> &'static Keystone {
        SHARED.get_or_init(|| Keystone::start(3600))
    }

    /// A Keystone of its own whose tokens live `token_seconds`.
    pub fn start(token_seconds: u64) -> Keystone {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keystone/serve.py");
        let python = python();
        let mut child = Command::new(&python)
            .arg(script)
            .arg("--token-expiration")
            .arg(token_seconds.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start Keystone with {} (run tests/keystone/setup.sh): {e}",
                    python.display()
                )
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("Keystone prints its fixtures");
        let fixtures: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("Keystone did not start ({e}): {line:?}"));
        Keystone {
            url: fixtures["url"].as_str().expect("url").to_owned(),
            password: fixtures["password"].as_str().expect("password").to_owned(),
            fixtures,
            _child: Mutex::new(child),
        }
    }

    /// The id of a fixture project (`alpha`, `beta`, `service`).
    pub fn project(&self, name: &str) -> String {
        self.fixtures["projects"][name]
            .as_str()
            .unwrap_or_else(|| panic!("no project {name}"))
            .to_owned()
    }

    /// Cairn's settings for this Keystone, with the service user's password.
    pub fn settings(&self) -> KeystoneSettings {
        KeystoneSettings {
            url: self.url.clone(),
            credentials: ServiceCredentials::Password {
                user: "cairn".into(),
                password: self.password.clone(),
                project: "service".into(),
                user_domain: "Default".into(),
                project_domain: "Default".into(),
            },
            trustee: None,
            cache_size: 1000,
            cache_ttl: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
        }
    }

    /// The id of a fixture user (`alice`, `cairn`, …).
    pub fn user(&self, name: &str) -> String {
        self.fixtures["users"][name]
            .as_str()
            .unwrap_or_else(|| panic!("no user {name}"))
            .to_owned()
    }

    /// `GET path` of Keystone's API as the bootstrap admin (scoped to the admin project).
    pub async fn admin_get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        let token = self.token("admin", "admin").await;
        let mut request = reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .header("X-Auth-Token", token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("Keystone answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Cairn's settings with the application credential instead of a password.
    pub fn settings_with_application_credential(&self) -> KeystoneSettings {
        let credential = &self.fixtures["application_credential"];
        KeystoneSettings {
            credentials: ServiceCredentials::ApplicationCredential {
                id: credential["id"].as_str().expect("id").to_owned(),
                secret: credential["secret"].as_str().expect("secret").to_owned(),
            },
            ..self.settings()
        }
    }

    /// A token of `user` scoped to `project` (a fixture name).
    pub async fn token(&self, user: &str, project: &str) -> String {
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "password": self.password, "domain": {"id": "default"}}}},
            "scope": {"project": {"id": self.project(project)}},
        }});
        let response = reqwest::Client::new()
            .post(format!("{}/v3/auth/tokens", self.url))
            .json(&body)
            .send()
            .await
            .expect("Keystone answers");
        assert_eq!(response.status().as_u16(), 201, "a token for {user}");
        response
            .headers()
            .get("x-subject-token")
            .expect("X-Subject-Token")
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Revokes a token.
    pub async fn revoke(&self, token: &str) {
        let response = reqwest::Client::new()
            .delete(format!("{}/v3/auth/tokens", self.url))
            .header("X-Auth-Token", token)
            .header("X-Subject-Token", token)
            .send()
            .await
            .expect("Keystone answers");
        assert_eq!(response.status().as_u16(), 204, "the token is revoked");
    }
}
