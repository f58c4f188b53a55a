//! Builds the application state, runs the transports and background work, and shuts
//! everything down on one signal: in-flight requests finish, the writer drains, the store
//! closes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::StoreError;
use crate::metrics::Metrics;
use crate::model::{Clock, Limits};
use crate::state::Core;
use crate::store::pools::Pools;
use crate::store::{Services, Store, StoreOptions, StoreUrl};
use crate::transports::listener::{self, ConnectionLimits};
use crate::transports::websocket::{self, WsSettings};

/// Everything needed to open a server.
#[derive(Debug, Clone)]
pub struct Settings {
    pub store: StoreUrl,
    pub store_options: StoreOptions,
    pub limits: Limits,
    /// How often expired messages and claims are recorded and removed.
    pub sweep_interval: Duration,
    pub websocket: WsSettings,
    /// How long events are kept in the log (`None`: forever). Older ones are pruned after
    /// the read models are snapshotted.
    pub event_retention: Option<Duration>,
    /// Notification delivery (`None`: subscriptions are stored but nothing is sent, except
    /// WebSocket push).
    pub notify: Option<crate::notify::NotifySettings>,
    /// Authentication, signed URLs and policy.
    pub auth: crate::auth::AuthSettings,
    /// The event stream to Kafka (`None`: no relay).
    pub kafka: Option<crate::kafka::KafkaSettings>,
    /// Serve the admin API (pools and flavors), as Zaqar's `admin_mode`.
    pub admin_mode: bool,
    /// Cross-origin requests from browsers (`None`: no CORS headers, as Zaqar without
    /// `allowed_origin`).
    pub cors: Option<crate::transports::http::CorsSettings>,
    /// How many connections each listener holds, and how long and large request headers
    /// may be.
    pub connections: ConnectionLimits,
}

impl Settings {
    /// A node on `store` with the defaults and nothing optional: Zaqar's limits, no
    /// notification delivery, authentication, Kafka, CORS, admin API or log retention,
    /// sweeps every `sweep_interval`. Callers change what they need.
    pub fn on_store(store: StoreUrl, sweep_interval: Duration) -> Settings {
        Settings {
            store,
            store_options: StoreOptions::default(),
            limits: Limits::default(),
            sweep_interval,
            websocket: WsSettings::default(),
            event_retention: None,
            notify: None,
            auth: Default::default(),
            kafka: None,
            admin_mode: false,
            cors: None,
            connections: Default::default(),
        }
    }
}

/// An opened server, ready to serve on a listener.
pub struct Server {
    state: Core,
    /// Tells waiting requests that the node is shutting down (see `Core::stopping`).
    stopping: watch::Sender<bool>,
    /// The pool stores this node opens, as it opens them (for their background work).
    opened_pools: tokio::sync::mpsc::UnboundedReceiver<Store>,
    websocket: Arc<WsSettings>,
    cors: Option<crate::transports::http::CorsSettings>,
    connections: ConnectionLimits,
    sweep_interval: Duration,
    event_retention: Option<Duration>,
    notify: Option<crate::notify::NotifySettings>,
    kafka: Option<crate::kafka::KafkaSettings>,
}

impl Server {
    /// Opens the store (running migrations) with the given clock.
    pub async fn open(settings: &Settings, clock: Arc<dyn Clock>) -> Result<Server, StoreError> {
        if settings.event_retention.is_some() && matches!(settings.store, StoreUrl::Postgres(_)) {
            return Err(StoreError::Unsupported(
                "--event-retention is not supported on PostgreSQL yet".into(),
            ));
        }
        let limits = Arc::new(settings.limits.clone());
        let metrics = Arc::new(Metrics::default());
        let services = Services {
            limits: limits.clone(),
            clock: clock.clone(),
            metrics: metrics.clone(),
        };
        let store = Store::open(&settings.store, &settings.store_options, services.clone()).await?;
        metrics.set_log_position(store.last_seq().await?);
        let (pools, opened_pools) = Pools::new(
            store.clone(),
            settings.store.clone(),
            settings.store_options.clone(),
            services,
        );
        pools.load().await?;
        let auth = Arc::new(
            settings
                .auth
                .build(metrics.clone())
                .map_err(|e| StoreError::Unsupported(format!("authentication: {e}")))?,
        );
        let (stopping, stopping_rx) = watch::channel(false);
        Ok(Server {
            stopping,
            opened_pools,
            state: Core {
                store,
                pools: Arc::new(pools),
                limits,
                clock,
                metrics,
                auth,
                admin_mode: settings.admin_mode,
                stopping: stopping_rx,
            },
            websocket: Arc::new(settings.websocket.clone()),
            cors: settings.cors.clone(),
            connections: settings.connections.clone(),
            sweep_interval: settings.sweep_interval,
            event_retention: settings.event_retention,
            notify: settings.notify.clone(),
            kafka: settings.kafka.clone(),
        })
    }

    /// The checkpoints of the consumers of the log that run here, which retention must not
    /// prune past.
    fn consumers(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.notify.is_some() {
            names.push(crate::store::NOTIFIER_CHECKPOINT);
        }
        if self.kafka.is_some() {
            names.push(crate::store::RELAY_CHECKPOINT);
        }
        names
    }

    pub fn state(&self) -> &Core {
        &self.state
    }

    /// Serves REST (and WebSocket at `/v2/ws`) on `listener` until `shutdown` resolves.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve(listener, None, shutdown).await
    }

    /// Serves REST on `http` and, if given, the WebSocket API on `websocket`, until
    /// `shutdown` resolves; then in-flight requests finish, the sweeper stops and the store
    /// closes.
    pub async fn serve(
        self,
        http: TcpListener,
        websocket: Option<TcpListener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let notifier = match self.notify.clone() {
            Some(settings) => Some(
                crate::notify::start(self.state.clone(), settings, stopped.clone())
                    .map_err(std::io::Error::other)?,
            ),
            None => None,
        };
        let relay = self
            .kafka
            .clone()
            .map(|settings| crate::kafka::start(self.state.clone(), settings, stopped.clone()));
        let sweeper = tokio::spawn(sweep(
            self.state.clone(),
            self.sweep_interval,
            self.event_retention,
            self.consumers(),
            stopped.clone(),
        ));
        let follower = tokio::spawn(follow_catalogue(self.state.clone(), stopped.clone()));
        let pool_work = tokio::spawn(run_pools(
            self.state.clone(),
            self.opened_pools,
            self.notify.clone(),
            self.sweep_interval,
            stopped.clone(),
        ));
        let ws_server = websocket.map(|listener| {
            let router = websocket::router(self.state.clone(), self.websocket.clone());
            let mut stopped = stopped.clone();
            let shutdown = async move {
                let _ = stopped.changed().await;
            };
            tokio::spawn(listener::serve(
                listener,
                router,
                self.connections.clone(),
                shutdown,
            ))
        });
        let router = crate::transports::http::router(
            self.state.clone(),
            self.cors.as_ref(),
            self.websocket.clone(),
        );
        let stopping = self.stopping.clone();
        let shutdown = async move {
            shutdown.await;
            // Long polls answer now, so that in-flight requests end promptly.
            let _ = stopping.send(true);
        };
        let served = listener::serve(http, router, self.connections.clone(), shutdown).await;
        let _ = stop.send(true);
        if let Some(server) = ws_server {
            match server.await {
                Ok(Err(e)) => tracing::error!(error = %e, "the WebSocket listener failed"),
                Err(e) => tracing::error!(error = %e, "the WebSocket listener panicked"),
                Ok(Ok(())) => {}
            }
        }
        if let Err(e) = sweeper.await {
            tracing::error!(error = %e, "the sweeper failed");
        }
        if let Err(e) = follower.await {
            tracing::error!(error = %e, "the catalogue follower failed");
        }
        if let Err(e) = pool_work.await {
            tracing::error!(error = %e, "the pools' background work failed");
        }
        if let Some(relay) = relay {
            if let Err(e) = relay.await {
                tracing::error!(error = %e, "the Kafka relay failed");
            }
        }
        if let Some(notifier) = notifier {
            // It records what its lanes report before the store closes.
            match tokio::time::timeout(Duration::from_secs(30), notifier).await {
                Ok(Err(e)) => tracing::error!(error = %e, "the notifier failed"),
                Err(_) => tracing::error!("the notifier did not stop within 30 s"),
                Ok(Ok(())) => {}
            }
        }
        self.state.pools.close().await;
        self.state.store.close().await;
        served
    }
}

/// Keeps the node's pools and queue places current with the catalogue's events: this
/// node's, and on PostgreSQL every node's.
async fn follow_catalogue(app: Core, mut stop: watch::Receiver<bool>) {
    let mut feed = app.store.subscribe();
    loop {
        tokio::select! {
            received = feed.recv() => match received {
                Ok(env) => app.pools.follow(&env).await,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    // Missed events: what was remembered may be stale; read it again.
                    app.pools.forget_all();
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = stop.changed() => return,
        }
    }
}

/// Runs each pool store's background work as the node opens it: its expiry sweeps and, when
/// the node delivers notifications, its notifier; until `stop`.
async fn run_pools(
    app: Core,
    mut opened: tokio::sync::mpsc::UnboundedReceiver<Store>,
    notify: Option<crate::notify::NotifySettings>,
    sweep_interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            store = opened.recv() => {
                let Some(store) = store else { break };
                let pool = Core { store, ..app.clone() };
                tasks.spawn(sweep(pool.clone(), sweep_interval, None, Vec::new(), stop.clone()));
                if let Some(settings) = notify.clone() {
                    match crate::notify::start(pool, settings, stop.clone()) {
                        Ok(notifier) => {
                            tasks.spawn(async move {
                                if let Err(e) = notifier.await {
                                    tracing::error!(error = %e, "a pool's notifier failed");
                                }
                            });
                        }
                        Err(e) => tracing::error!(error = %e, "a pool's notifier cannot start"),
                    }
                }
            }
            _ = stop.changed() => break,
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// Periodically records the expiry of messages and claims and, with a retention period,
/// prunes the log (at most every quarter of that period, and at most once a minute; while
/// notifying or relaying to Kafka, never past their checkpoints).
async fn sweep(
    app: Core,
    every: Duration,
    retention: Option<Duration>,
    keep_after: Vec<&'static str>,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let prune_every = retention.map(|r| (r / 4).max(Duration::from_secs(60)));
    let mut last_prune: Option<std::time::Instant> = None;
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if let Err(e) = app.store.sweep(|| !*stop.borrow()).await {
                    tracing::warn!(error = %e, "expiry sweep failed");
                }
                let (Some(retention), Some(period)) = (retention, prune_every) else { continue };
                if last_prune.is_some_and(|t| t.elapsed() < period) {
                    continue;
                }
                last_prune = Some(std::time::Instant::now());
                let keep_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
                let before = crate::model::Timestamp(app.clock.now().0.saturating_sub(keep_ms));
                if let Err(e) = app.store.prune_keeping(before, keep_after.clone()).await {
                    tracing::warn!(error = %e, "pruning the log failed");
                }
            }
            _ = stop.changed() => return,
        }
    }
}
