//! Configuration: command-line flags, `CAIRN_*` environment variables and an optional TOML
//! file, in that order of precedence, validated once into [`Cli`]. `cairn --help` and
//! `cairn serve --help` document every option.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::model::Limits;
use crate::notify::document::{
    ConfirmationMails, MailTemplate, CONFIRMATION_BODY, CONFIRMATION_TOPIC, MAIL_SENDER,
    UNSUBSCRIBE_BODY, UNSUBSCRIBE_TOPIC,
};
use crate::store::StoreUrl;

#[derive(Debug, Parser)]
#[command(
    name = "cairn",
    version,
    about = "Multi-tenant messaging service, wire-compatible with OpenStack Zaqar v2",
    args_override_self = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Rebuild the read models from the event log: in place, or up to a point into a new
    /// data directory (time travel). Stop the server before an in-place replay.
    Replay(ReplayArgs),
    /// Replay the log into a scratch copy and compare it with the live read models; exits 1
    /// on any divergence. Safe while the server runs.
    Verify(VerifyArgs),
    /// Load-test a running server, like zaqar-bench: producers, consumers and observers over
    /// REST or WebSocket for a fixed time; prints throughput, latency percentiles and a
    /// self-check of what was received (exits 1 on a violation).
    Bench(crate::bench::BenchArgs),
    /// Run librdkafka's in-memory mock Kafka cluster and print its bootstrap servers: for
    /// trying and benchmarking the event stream without Kafka (it keeps nothing).
    KafkaMock(crate::kafka::mock::MockArgs),
}

/// Which store an offline command works on.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Directory of the SQLite store.
    #[arg(long, env = "CAIRN_DATA_DIR", default_value = "./cairn-data")]
    pub data_dir: PathBuf,
    /// Store URL: `sqlite://PATH` (default `sqlite://<data-dir>/cairn.db`) or
    /// `postgres://USER@HOST[:PORT]/DB` for several nodes on one database.
    #[arg(long, env = "CAIRN_STORE")]
    pub store: Option<StoreUrl>,
}

impl StoreArgs {
    pub fn store_url(&self) -> StoreUrl {
        self.store
            .clone()
            .unwrap_or_else(|| StoreUrl::Sqlite(self.data_dir.join("cairn.db")))
    }
}

/// Where a replay stops: a log position or an RFC 3339 instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayUntil {
    Seq(i64),
    Time(crate::model::Timestamp),
}

/// A duration such as `30d`, `12h`, `90m`, `45s` or plain seconds.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30d, 12h, 90m or 45s"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => {
            return Err(format!(
                "{text:?} is not a duration like 30d, 12h, 90m or 45s"
            ))
        }
    };
    Ok(std::time::Duration::from_secs(secs))
}

fn parse_until(text: &str) -> Result<ReplayUntil, String> {
    if let Ok(seq) = text.parse::<i64>() {
        return Ok(ReplayUntil::Seq(seq));
    }
    crate::model::Timestamp::parse_rfc3339(text)
        .map(ReplayUntil::Time)
        .ok_or_else(|| format!("{text:?} is neither a sequence number nor an RFC 3339 time"))
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub source: StoreArgs,
    /// Stop after this log position, or after the last event at or before this RFC 3339
    /// time (e.g. 2026-11-22T09:00:00Z). Requires --into.
    #[arg(long, value_parser = parse_until, requires = "into")]
    pub until: Option<ReplayUntil>,
    /// Build a new data directory holding the log (up to --until) and its read models,
    /// instead of rebuilding in place. `cairn serve --data-dir DIR` then serves that state.
    #[arg(long)]
    pub into: Option<PathBuf>,
    /// Rebuild from the event stream in Kafka instead of a store's own log:
    /// `kafka://HOST:PORT,…/TOPIC` (the relay's topic). Requires --into.
    #[arg(long, requires = "into", conflicts_with = "until")]
    pub from: Option<crate::kafka::TopicUrl>,
    /// A librdkafka setting for reading from Kafka, `key=value` (repeatable).
    #[arg(long = "kafka-option", value_parser = crate::kafka::parse_option, requires = "from")]
    pub kafka_options: Vec<(String, String)>,
    /// SQLite, in place: rows folded in memory before they are written out and committed
    /// (fewer: less memory, more commits). An interrupted replay is finished at the next
    /// start of the store.
    #[arg(long, default_value_t = 1_000_000)]
    pub window: usize,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub source: StoreArgs,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthStrategy {
    /// The project header is trusted (Zaqar's noauth).
    None,
    /// Keystone v3 tokens.
    Keystone,
}

/// SQLite durability level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Synchronous {
    /// fsync on every commit: nothing acknowledged is lost, even on power failure.
    Full,
    /// fsync at WAL checkpoints only: survives process crashes, not power loss.
    Normal,
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct ServeArgs {
    /// A TOML file of settings; keys are the long option names (`bind = "…"`,
    /// `max_message_ttl = 600`, …). Flags and environment variables override it.
    #[arg(long, env = "CAIRN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address of the REST API.
    #[arg(long, env = "CAIRN_BIND", default_value = "127.0.0.1:8888")]
    pub bind: SocketAddr,
    /// Directory of the default SQLite store.
    #[arg(long, env = "CAIRN_DATA_DIR", default_value = "./cairn-data")]
    pub data_dir: PathBuf,
    /// Store URL (`sqlite://PATH`); default `sqlite://<data-dir>/cairn.db`.
    #[arg(long, env = "CAIRN_STORE")]
    pub store: Option<StoreUrl>,
    /// SQLite durability: `full` (default) or `normal`.
    #[arg(long, env = "CAIRN_SYNCHRONOUS", value_enum, default_value = "full")]
    pub synchronous: Synchronous,
    /// Connections in the read pool (PostgreSQL: per node, besides the writer's and the
    /// listener's own).
    #[arg(long, env = "CAIRN_POOL_SIZE", default_value_t = 4)]
    pub pool_size: u32,
    /// PostgreSQL: longest a statement may run before the server cancels it (e.g. `30s`).
    #[arg(long, env = "CAIRN_STATEMENT_TIMEOUT", value_parser = parse_duration, default_value = "30s")]
    pub statement_timeout: std::time::Duration,
    /// Most commands committed together in one transaction (group commit).
    #[arg(long, env = "CAIRN_MAX_BATCH", default_value_t = 256)]
    pub max_batch: usize,
    /// Keep events in the log this long (e.g. `30d`, `12h`, `90m`, `3600s`); older ones are
    /// pruned after a snapshot of the read models is saved. Default: keep everything.
    #[arg(long, env = "CAIRN_EVENT_RETENTION", value_parser = parse_duration)]
    pub event_retention: Option<std::time::Duration>,
    /// Seconds between sweeps that record message and claim expiry.
    #[arg(long, env = "CAIRN_SWEEP_INTERVAL", default_value_t = 5)]
    pub sweep_interval: u64,
    /// Address of the dedicated WebSocket listener (the API is also at `/v2/ws` on `--bind`).
    #[arg(long, env = "CAIRN_WEBSOCKET_BIND", default_value = "127.0.0.1:9000")]
    pub websocket_bind: SocketAddr,
    /// Do not open the dedicated WebSocket listener (`/v2/ws` on the REST port stays).
    #[arg(long, env = "CAIRN_NO_WEBSOCKET")]
    pub no_websocket: bool,
    /// Largest WebSocket frame accepted (bytes); larger frames get a 400.
    #[arg(long, env = "CAIRN_WEBSOCKET_MAX_FRAME", default_value_t = 1024 * 1024)]
    pub websocket_max_frame: usize,
    /// Frames that may wait to be sent on one connection before it is closed as too slow.
    #[arg(long, env = "CAIRN_WEBSOCKET_SEND_QUEUE", default_value_t = 1024)]
    pub websocket_send_queue: usize,
    /// Seconds between server pings on a WebSocket connection.
    #[arg(long, env = "CAIRN_WEBSOCKET_PING_INTERVAL", default_value_t = 30)]
    pub websocket_ping_interval: u64,
    /// Seconds without any frame from a client after which its connection is closed.
    #[arg(long, env = "CAIRN_WEBSOCKET_IDLE_TIMEOUT", default_value_t = 600)]
    pub websocket_idle_timeout: u64,
    /// Most HTTP connections open at once on each listener; one more is answered 503 and
    /// closed. A WebSocket connection leaves this count once upgraded.
    #[arg(long, env = "CAIRN_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Longest wait for a request's whole header, and for the next request on an idle
    /// kept-alive connection (`30s`, `1m`); a slower client is disconnected.
    #[arg(long, env = "CAIRN_HEADER_TIMEOUT", value_parser = parse_duration, default_value = "30s")]
    pub header_timeout: std::time::Duration,
    /// Largest request header section (bytes, at least 8192); larger ones are answered 431.
    #[arg(long, env = "CAIRN_MAX_HEADER_BYTES", default_value_t = 32 * 1024)]
    pub max_header_bytes: usize,
    /// Most WebSocket connections acting in one project at once; a frame for a project
    /// beyond it is answered 429.
    #[arg(long, env = "CAIRN_WEBSOCKET_MAX_PER_PROJECT", default_value_t = 1000)]
    pub websocket_max_per_project: usize,
    /// Deliver no notifications: subscriptions are stored, and only WebSocket push
    /// subscriptions are sent messages.
    #[arg(long, env = "CAIRN_NO_NOTIFY")]
    pub no_notify: bool,
    /// Serve the admin API: pools and flavors (`/v2/pools`, `/v2/flavors` and their
    /// WebSocket actions), as Zaqar's `admin_mode`. Under Keystone their policy rules are
    /// admin-only by default.
    #[arg(long, env = "CAIRN_ADMIN_MODE")]
    pub admin_mode: bool,
    /// Longest a webhook request or SMTP exchange may take (whole seconds: `10s`, `1m`).
    #[arg(long, env = "CAIRN_NOTIFY_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub notify_timeout: std::time::Duration,
    /// Most notification requests in flight to one subscriber URI at once.
    #[arg(long, env = "CAIRN_NOTIFY_CONCURRENCY", default_value_t = 8)]
    pub notify_concurrency: usize,
    /// Most notifications waiting or in flight; beyond it delivery stops reading the log
    /// until some finish.
    #[arg(long, env = "CAIRN_NOTIFY_MAX_PENDING", default_value_t = 100_000)]
    pub notify_max_pending: usize,
    /// Sign every webhook as Standard Webhooks does (`webhook-id`, `webhook-timestamp`,
    /// `webhook-signature`) with this secret (`whsec_<base64>` or plain text).
    #[arg(long, env = "CAIRN_WEBHOOK_SIGNING_KEY", hide_env_values = true)]
    pub webhook_signing_key: Option<String>,
    /// Zaqar's `[signed_url] secret_key`: signs pre-signed URLs (`POST …/share`) and
    /// subscription confirmation requests. Without it, `share` answers 400.
    #[arg(long, env = "CAIRN_SIGNING_KEY", hide_env_values = true)]
    pub signing_key: Option<String>,
    /// How requests are authenticated: `none` (the project header is trusted; for
    /// development) or `keystone` (`X-Auth-Token` validated against Keystone v3).
    #[arg(long, env = "CAIRN_AUTH", value_enum, default_value = "none")]
    pub auth: AuthStrategy,
    /// Keystone's address, e.g. `http://127.0.0.1:5000`.
    #[arg(long, env = "CAIRN_KEYSTONE_URL")]
    pub keystone_url: Option<String>,
    /// Cairn's service user in Keystone (it needs a role that may validate tokens, such as
    /// `admin` or `service`).
    #[arg(long, env = "CAIRN_KEYSTONE_USER")]
    pub keystone_user: Option<String>,
    #[arg(long, env = "CAIRN_KEYSTONE_PASSWORD", hide_env_values = true)]
    pub keystone_password: Option<String>,
    /// The project the service user's token is scoped to.
    #[arg(long, env = "CAIRN_KEYSTONE_PROJECT")]
    pub keystone_project: Option<String>,
    /// Domain (name) of the service user.
    #[arg(long, env = "CAIRN_KEYSTONE_USER_DOMAIN", default_value = "Default")]
    pub keystone_user_domain: String,
    /// Domain (name) of the service user's project.
    #[arg(long, env = "CAIRN_KEYSTONE_PROJECT_DOMAIN", default_value = "Default")]
    pub keystone_project_domain: String,
    /// An application credential instead of user and password: its id ...
    #[arg(long, env = "CAIRN_KEYSTONE_APPLICATION_CREDENTIAL_ID")]
    pub keystone_application_credential_id: Option<String>,
    /// ... and its secret.
    #[arg(
        long,
        env = "CAIRN_KEYSTONE_APPLICATION_CREDENTIAL_SECRET",
        hide_env_values = true
    )]
    pub keystone_application_credential_secret: Option<String>,
    /// The trustee of the Keystone trusts `trust+http(s)` subscriptions are created with
    /// (Zaqar's `[trustee]`): the user each delivery gets a token as, through the trust.
    /// Default: the service user (`--keystone-user`).
    #[arg(long, env = "CAIRN_KEYSTONE_TRUSTEE_USER")]
    pub keystone_trustee_user: Option<String>,
    #[arg(long, env = "CAIRN_KEYSTONE_TRUSTEE_PASSWORD", hide_env_values = true)]
    pub keystone_trustee_password: Option<String>,
    /// Domain (name) of the trustee.
    #[arg(long, env = "CAIRN_KEYSTONE_TRUSTEE_DOMAIN", default_value = "Default")]
    pub keystone_trustee_domain: String,
    /// Most validated tokens kept in the cache.
    #[arg(long, env = "CAIRN_KEYSTONE_CACHE_SIZE", default_value_t = 10_000)]
    pub keystone_cache_size: usize,
    /// Longest a validated token is trusted without asking Keystone again (so a revoked
    /// token works at most this long): `5m`, `30s`, `0s` for no cache.
    #[arg(long, env = "CAIRN_KEYSTONE_CACHE_TTL", value_parser = parse_duration, default_value = "5m")]
    pub keystone_cache_ttl: std::time::Duration,
    /// Longest one request to Keystone may take.
    #[arg(long, env = "CAIRN_KEYSTONE_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub keystone_timeout: std::time::Duration,
    /// A policy file (JSON, or TOML for other extensions): rule name to oslo.policy rule,
    /// over Zaqar's defaults. See the README's Authentication section.
    #[arg(long, env = "CAIRN_POLICY_FILE")]
    pub policy_file: Option<PathBuf>,
    /// Origins allowed to call the API from a browser (comma-separated, `*` for any).
    /// Without it no CORS headers are sent, as in Zaqar.
    #[arg(long, env = "CAIRN_CORS_ALLOWED_ORIGIN", value_delimiter = ',')]
    pub cors_allowed_origin: Vec<String>,
    /// Let browsers send credentials (cookies, HTTP auth) on cross-origin requests.
    #[arg(long, env = "CAIRN_CORS_ALLOW_CREDENTIALS")]
    pub cors_allow_credentials: bool,
    /// Seconds a browser may cache a preflight answer.
    #[arg(long, env = "CAIRN_CORS_MAX_AGE")]
    pub cors_max_age: Option<u64>,
    /// SMTP relay for `mailto:` subscribers: `smtp://HOST:PORT` (plain), with
    /// `?tls=required` or `?tls=opportunistic` for STARTTLS, `smtps://` for TLS, and
    /// `USER:PASSWORD@` for credentials.
    #[arg(long, env = "CAIRN_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of notification mails whose subscription has no `from` option.
    #[arg(long, env = "CAIRN_SMTP_FROM", default_value = "cairn@localhost")]
    pub smtp_from: String,
    /// The page a confirmation mail links to (Zaqar's `external_confirmation_url`); it
    /// gets the signed request's `Signature`, `Methods`, `Paths`, `Project`, `Expires`,
    /// `Url` and `Queue`. Without it, `mailto:` subscribers get no confirmation mail.
    #[arg(long, env = "CAIRN_EXTERNAL_CONFIRMATION_URL")]
    pub external_confirmation_url: Option<String>,
    /// Subject of a subscription confirmation mail.
    #[arg(long, env = "CAIRN_CONFIRMATION_MAIL_TOPIC", default_value = CONFIRMATION_TOPIC)]
    pub confirmation_mail_topic: String,
    /// Body of a subscription confirmation mail: `{0}` the queue, `{1}` the project, `{2}`
    /// the link.
    #[arg(long, env = "CAIRN_CONFIRMATION_MAIL_BODY", default_value = CONFIRMATION_BODY)]
    pub confirmation_mail_body: String,
    /// Sender of subscription confirmation mails.
    #[arg(long, env = "CAIRN_CONFIRMATION_MAIL_SENDER", default_value = MAIL_SENDER)]
    pub confirmation_mail_sender: String,
    /// Subject of an unsubscribe confirmation mail.
    #[arg(long, env = "CAIRN_UNSUBSCRIBE_MAIL_TOPIC", default_value = UNSUBSCRIBE_TOPIC)]
    pub unsubscribe_mail_topic: String,
    /// Body of an unsubscribe confirmation mail, with the same three fields.
    #[arg(long, env = "CAIRN_UNSUBSCRIBE_MAIL_BODY", default_value = UNSUBSCRIBE_BODY)]
    pub unsubscribe_mail_body: String,
    /// Sender of unsubscribe confirmation mails.
    #[arg(long, env = "CAIRN_UNSUBSCRIBE_MAIL_SENDER", default_value = MAIL_SENDER)]
    pub unsubscribe_mail_sender: String,
    /// Publish every committed event to Kafka, through these brokers (`HOST:PORT,…`).
    #[arg(long, env = "CAIRN_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// The Kafka topic of the event stream.
    #[arg(long, env = "CAIRN_KAFKA_TOPIC", default_value = crate::kafka::DEFAULT_TOPIC)]
    pub kafka_topic: String,
    /// A librdkafka setting for the relay's clients, `key=value` (repeatable; e.g.
    /// `security.protocol=SASL_SSL`, `sasl.mechanisms=SCRAM-SHA-512`, `ssl.ca.location=…`).
    #[arg(long = "kafka-option", env = "CAIRN_KAFKA_OPTIONS", value_delimiter = ';',
          value_parser = crate::kafka::parse_option, hide_env_values = true)]
    pub kafka_options: Vec<(String, String)>,
    /// Partitions of the topic when the relay creates it.
    #[arg(long, env = "CAIRN_KAFKA_PARTITIONS", default_value_t = 6)]
    pub kafka_partitions: i32,
    /// Replication factor of the topic when the relay creates it (`-1`: the brokers'
    /// default).
    #[arg(long, env = "CAIRN_KAFKA_REPLICATION", default_value_t = -1, allow_negative_numbers = true)]
    pub kafka_replication: i32,
    /// The relay's `transactional.id` (default `cairn-relay.<topic>`); nodes relaying the
    /// same log must share it.
    #[arg(long, env = "CAIRN_KAFKA_TRANSACTIONAL_ID")]
    pub kafka_transactional_id: Option<String>,
    /// Most events in one Kafka transaction.
    #[arg(long, env = "CAIRN_KAFKA_BATCH", default_value_t = 5_000)]
    pub kafka_batch: usize,
    /// Publish in Kafka transactions (`false` for brokers without them, such as Tansu: the
    /// idempotent producer alone, and the partition tails as the checkpoint).
    #[arg(long, env = "CAIRN_KAFKA_TRANSACTIONS", default_value_t = true, action = clap::ArgAction::Set)]
    pub kafka_transactions: bool,
    /// Log filter (`error`, `warn`, `info`, `debug`, or a tracing directive).
    #[arg(long, env = "CAIRN_LOG", default_value = "info")]
    pub log: String,
    #[command(flatten)]
    pub limits: Limits,
}

impl ServeArgs {
    /// The WebSocket settings.
    pub fn websocket(&self) -> crate::transports::websocket::WsSettings {
        crate::transports::websocket::WsSettings {
            max_frame: self.websocket_max_frame,
            send_queue: self.websocket_send_queue.max(1),
            ping_interval: std::time::Duration::from_secs(self.websocket_ping_interval.max(1)),
            idle_timeout: std::time::Duration::from_secs(self.websocket_idle_timeout.max(1)),
            max_per_project: self.websocket_max_per_project.max(1),
            seats: Default::default(),
        }
    }

    /// The limits of each listener's connections.
    pub fn connections(&self) -> crate::transports::listener::ConnectionLimits {
        crate::transports::listener::ConnectionLimits {
            max_connections: self.max_connections.max(1),
            header_timeout: self.header_timeout.max(std::time::Duration::from_secs(1)),
            max_header_bytes: self
                .max_header_bytes
                .max(crate::transports::listener::MIN_HEADER_BYTES),
        }
    }

    /// The notification engine's settings, or `None` with `--no-notify`.
    pub fn notify(&self) -> Result<Option<crate::notify::NotifySettings>, String> {
        let policy = crate::model::AddressPolicy::new(&self.limits.notify_allow_hosts)?;
        if self.limits.require_confirmation && self.signing_key.is_none() {
            return Err(
                "--require-confirmation needs --signing-key to sign the confirmation \
                        requests"
                    .into(),
            );
        }
        if self.no_notify {
            return Ok(None);
        }
        let webhook_key = self
            .webhook_signing_key
            .as_deref()
            .map(crate::notify::signing::SigningKey::parse)
            .transpose()?;
        Ok(Some(crate::notify::NotifySettings {
            send: crate::notify::send::SendSettings {
                timeout: self.notify_timeout.max(std::time::Duration::from_secs(1)),
                per_subscriber: self.notify_concurrency.max(1),
                policy: std::sync::Arc::new(policy),
                webhook_key,
                smtp_url: self.smtp_url.clone(),
                mail_from: self.smtp_from.clone(),
                mails: ConfirmationMails {
                    page: self.external_confirmation_url.clone(),
                    subscribe: MailTemplate {
                        topic: self.confirmation_mail_topic.clone(),
                        body: self.confirmation_mail_body.clone(),
                        sender: self.confirmation_mail_sender.clone(),
                    },
                    unsubscribe: MailTemplate {
                        topic: self.unsubscribe_mail_topic.clone(),
                        body: self.unsubscribe_mail_body.clone(),
                        sender: self.unsubscribe_mail_sender.clone(),
                    },
                },
            },
            max_pending: self.notify_max_pending.max(1),
            confirmation_key: self.signing_key.as_ref().map(|k| k.as_bytes().to_vec()),
        }))
    }

    /// The Kafka relay's settings, or `None` without `--kafka-brokers`.
    pub fn kafka(&self) -> Option<crate::kafka::KafkaSettings> {
        let brokers = self.kafka_brokers.as_deref()?;
        let mut settings = crate::kafka::KafkaSettings::new(brokers, &self.kafka_topic);
        settings.options = self.kafka_options.clone();
        settings.partitions = self.kafka_partitions.max(1);
        settings.replication = self.kafka_replication;
        if let Some(id) = &self.kafka_transactional_id {
            settings.transactional_id = id.clone();
        }
        settings.max_batch = self.kafka_batch.max(1);
        settings.transactions = self.kafka_transactions;
        Some(settings)
    }

    /// Authentication, signed URLs and policy, checked for consistency.
    pub fn auth(&self) -> Result<crate::auth::AuthSettings, String> {
        use crate::auth::keystone::{KeystoneSettings, ServiceCredentials, Trustee};
        let policy = match &self.policy_file {
            Some(path) => crate::auth::Policy::load(path)?,
            None => crate::auth::Policy::default(),
        };
        let keystone = match self.auth {
            AuthStrategy::None => None,
            AuthStrategy::Keystone => {
                let url = self
                    .keystone_url
                    .clone()
                    .ok_or("--auth keystone needs --keystone-url")?;
                url::Url::parse(&url).map_err(|e| format!("--keystone-url {url:?}: {e}"))?;
                let credentials = match (
                    &self.keystone_application_credential_id,
                    &self.keystone_application_credential_secret,
                ) {
                    (Some(id), Some(secret)) => ServiceCredentials::ApplicationCredential {
                        id: id.clone(),
                        secret: secret.clone(),
                    },
                    (None, None) => ServiceCredentials::Password {
                        user: self.keystone_user.clone().ok_or(
                            "--auth keystone needs --keystone-user (or an application credential)",
                        )?,
                        password: self
                            .keystone_password
                            .clone()
                            .ok_or("--keystone-user needs --keystone-password")?,
                        project: self
                            .keystone_project
                            .clone()
                            .ok_or("--keystone-user needs --keystone-project")?,
                        user_domain: self.keystone_user_domain.clone(),
                        project_domain: self.keystone_project_domain.clone(),
                    },
                    _ => {
                        return Err("an application credential needs both its id and its \
                                    secret"
                            .into())
                    }
                };
                let trustee = match (&self.keystone_trustee_user, &self.keystone_trustee_password) {
                    (Some(user), Some(password)) => Some(Trustee {
                        user: user.clone(),
                        password: password.clone(),
                        domain: self.keystone_trustee_domain.clone(),
                    }),
                    (None, None) => None,
                    _ => {
                        return Err(
                            "--keystone-trustee-user needs --keystone-trustee-password, \
                                    and the other way round"
                                .into(),
                        )
                    }
                };
                Some(KeystoneSettings {
                    url,
                    credentials,
                    trustee,
                    cache_size: self.keystone_cache_size.max(1),
                    cache_ttl: self.keystone_cache_ttl,
                    timeout: self.keystone_timeout.max(std::time::Duration::from_secs(1)),
                })
            }
        };
        Ok(crate::auth::AuthSettings {
            keystone,
            signing_key: self.signing_key.as_ref().map(|k| k.as_bytes().to_vec()),
            policy,
        })
    }

    /// CORS, when origins are allowed.
    pub fn cors(&self) -> Option<crate::transports::http::CorsSettings> {
        let origins: Vec<String> = self
            .cors_allowed_origin
            .iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        if origins.is_empty() {
            return None;
        }
        Some(crate::transports::http::CorsSettings {
            allowed_origins: origins,
            allow_credentials: self.cors_allow_credentials,
            max_age: self.cors_max_age,
        })
    }

    /// The store URL, defaulting to a database in the data directory.
    pub fn store_url(&self) -> StoreUrl {
        self.store
            .clone()
            .unwrap_or_else(|| StoreUrl::Sqlite(self.data_dir.join("cairn.db")))
    }
}

/// Why a command line gives no settings to run with.
#[derive(Debug, PartialEq, Eq)]
pub enum Unparsed {
    /// `--help` or `--version` was asked for: this text goes to standard output, and the
    /// process ends successfully.
    Shown(String),
    /// The command line (or its config file) is wrong: this message goes to standard
    /// error, and the process ends with status 2.
    Invalid(String),
}

impl From<clap::Error> for Unparsed {
    fn from(e: clap::Error) -> Self {
        let text = e.render().to_string();
        match e.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                Unparsed::Shown(text)
            }
            _ => Unparsed::Invalid(text),
        }
    }
}

impl From<String> for Unparsed {
    fn from(message: String) -> Self {
        Unparsed::Invalid(message)
    }
}

impl From<&str> for Unparsed {
    fn from(message: &str) -> Self {
        Unparsed::Invalid(message.to_owned())
    }
}

/// Parses the process arguments, merging a config file when one is named.
pub fn parse() -> Result<Cli, Unparsed> {
    parse_from(std::env::args_os().collect())
}

/// Parses `args`; the settings of a `--config` file are inserted before the command-line
/// flags (so flags win), except those whose environment variable is set (so env wins too).
pub fn parse_from(args: Vec<OsString>) -> Result<Cli, Unparsed> {
    let cli = Cli::try_parse_from(&args)?;
    let Command::Serve(serve) = &cli.command else {
        return Ok(cli);
    };
    let Some(path) = &serve.config else {
        return Ok(cli);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("invalid config file {}: {e}", path.display()))?;
    let mut from_file = Vec::new();
    flatten(&table, &mut from_file)?;
    let position = args
        .iter()
        .position(|a| a == "serve")
        .ok_or("the config file applies to `serve`")?;
    let mut merged: Vec<OsString> = args[..=position].to_vec();
    for (key, value) in from_file {
        let env = format!("CAIRN_{}", key.to_ascii_uppercase());
        if std::env::var_os(env).is_some() {
            continue;
        }
        let flag = format!("--{}", key.replace('_', "-"));
        match value {
            // Switches take no value: `true` sets them, `false` leaves the default (off).
            Setting::Switch(true) => merged.push(flag.into()),
            Setting::Switch(false) => {}
            Setting::Value(v) => merged.push(format!("{flag}={v}").into()),
        }
    }
    merged.extend(args[position + 1..].iter().cloned());
    Ok(Cli::try_parse_from(merged)?)
}

/// One setting of a config file.
enum Setting {
    /// A boolean, for switches such as `enable_checksum`.
    Switch(bool),
    Value(String),
}

/// Top-level keys and keys of nested tables (e.g. `[limits]`) become option settings.
fn flatten(table: &toml::Table, out: &mut Vec<(String, Setting)>) -> Result<(), String> {
    for (key, value) in table {
        let key = key.replace('-', "_");
        match value {
            toml::Value::Table(inner) => flatten(inner, out)?,
            toml::Value::String(s) => out.push((key, Setting::Value(s.clone()))),
            toml::Value::Integer(i) => out.push((key, Setting::Value(i.to_string()))),
            toml::Value::Boolean(b) => out.push((key, Setting::Switch(*b))),
            toml::Value::Float(f) => out.push((key, Setting::Value(f.to_string()))),
            toml::Value::Array(items) => {
                let items = items
                    .iter()
                    .map(|item| match item {
                        toml::Value::String(s) => Ok(s.clone()),
                        toml::Value::Integer(i) => Ok(i.to_string()),
                        other => Err(format!("unsupported list item for {key}: {other:?}")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                out.push((key, Setting::Value(items.join(","))));
            }
            other => return Err(format!("unsupported value for {key}: {other:?}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn config_file_is_overridden_by_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.toml");
        std::fs::write(
            &path,
            "bind = \"127.0.0.1:9999\"\nmax_batch = 7\n[limits]\nmax_message_ttl = 600\n\
             enable_checksum = true\nsubscriber_types = [\"http\", \"https\"]\n",
        )
        .unwrap();
        let cli = parse_from(args(&[
            "cairn",
            "serve",
            "--config",
            path.to_str().unwrap(),
            "--max-batch",
            "9",
        ]))
        .unwrap();
        let Command::Serve(s) = cli.command else {
            panic!("expected serve");
        };
        assert_eq!(s.bind.port(), 9999);
        assert_eq!(s.max_batch, 9);
        assert_eq!(s.limits.max_message_ttl, 600);
        assert!(s.limits.enable_checksum);
        assert_eq!(s.limits.subscriber_types, vec!["http", "https"]);
    }

    #[test]
    fn durations_parse() {
        assert_eq!(
            parse_duration("90m"),
            Ok(std::time::Duration::from_secs(5400))
        );
        assert_eq!(
            parse_duration("2d"),
            Ok(std::time::Duration::from_secs(172_800))
        );
        assert_eq!(parse_duration("15"), Ok(std::time::Duration::from_secs(15)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn unknown_config_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.toml");
        std::fs::write(&path, "no_such_option = 1\n").unwrap();
        let err = parse_from(args(&[
            "cairn",
            "serve",
            "--config",
            path.to_str().unwrap(),
        ]));
        assert!(matches!(err, Err(Unparsed::Invalid(_))));
    }

    #[test]
    fn help_and_version_are_shown_and_bad_flags_are_invalid() {
        for asked in [
            &["cairn", "--help"][..],
            &["cairn", "serve", "--help"],
            &["cairn", "--version"],
        ] {
            assert!(
                matches!(parse_from(args(asked)), Err(Unparsed::Shown(_))),
                "{asked:?}"
            );
        }
        let bad = parse_from(args(&["cairn", "serve", "--no-such-flag"]));
        assert!(matches!(bad, Err(Unparsed::Invalid(_))));
    }
}
