//! One delivery attempt: a webhook POST (through the SSRF guard, no redirects, a timeout,
//! at most `per_subscriber` requests in flight to one subscriber) or a mail through the
//! configured SMTP relay. Success is a 2xx answer or a mail the relay accepted; anything
//! else is a [`Failure`] with the status and a reason, which the lane may retry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::document::{self, ConfirmationMails};
use super::guard::{self, GuardedResolver};
use super::signing::SigningKey;
use crate::auth::Auth;
use crate::events::NotificationKind;
use crate::model::subscriber::{needs_trust, TRUST_ID};
use crate::model::{AddressPolicy, Target};
use crate::projections::SubscriptionView;

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// HTTP status or SMTP reply code, if the other side answered.
    pub status: Option<u16>,
    pub reason: String,
}

impl Failure {
    fn new(status: Option<u16>, reason: impl Into<String>) -> Self {
        Failure {
            status,
            reason: reason.into(),
        }
    }
}

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct SendSettings {
    /// Longest a webhook request (or an SMTP exchange) may take.
    pub timeout: Duration,
    /// Most requests in flight to one subscriber URI at once.
    pub per_subscriber: usize,
    pub policy: Arc<AddressPolicy>,
    pub webhook_key: Option<SigningKey>,
    /// `smtp://HOST:PORT` (or lettre's URL forms: `smtps://`, `?tls=required`, credentials).
    pub smtp_url: Option<String>,
    /// Sender of mails whose subscription sets no `from` option.
    pub mail_from: String,
    /// Zaqar's confirmation and unsubscribe mails.
    pub mails: ConfirmationMails,
}

/// Sends notifications; shared by every lane.
pub struct Sender {
    settings: SendSettings,
    /// Keystone, for the tokens of `trust+` subscribers.
    auth: Arc<Auth>,
    http: reqwest::Client,
    mailer: Option<AsyncSmtpTransport<Tokio1Executor>>,
    limits: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// What one attempt sends.
pub struct Attempt<'a> {
    pub subscription: &'a SubscriptionView,
    pub kind: NotificationKind,
    /// JSON text.
    pub document: &'a str,
    /// Stable across retries (the `webhook-id`).
    pub id: &'a str,
    /// Unix seconds, for the signature.
    pub timestamp: i64,
}

impl Sender {
    pub fn new(settings: SendSettings, auth: Arc<Auth>) -> Result<Sender, String> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                policy: settings.policy.clone(),
            }))
            .pool_max_idle_per_host(settings.per_subscriber.max(1))
            .user_agent(concat!("cairn/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the webhook client: {e}"))?;
        let mailer = match &settings.smtp_url {
            None => None,
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| format!("--smtp-url {url:?}: {e}"))?
                    .timeout(Some(settings.timeout))
                    .build(),
            ),
        };
        Ok(Sender {
            settings,
            auth,
            http,
            mailer,
            limits: Mutex::default(),
        })
    }

    /// The semaphore bounding requests to one subscriber.
    fn limit(&self, subscriber: &str) -> Arc<Semaphore> {
        let mut limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        if limits.len() > 100_000 {
            // Forget idle subscribers; busy ones keep their permits through their Arc.
            limits.retain(|_, s| Arc::strong_count(s) > 1);
        }
        limits
            .entry(subscriber.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.settings.per_subscriber.max(1))))
            .clone()
    }

    /// Makes one attempt; the status of a success.
    pub async fn send(&self, attempt: &Attempt<'_>) -> Result<u16, Failure> {
        let subscriber = &attempt.subscription.subscriber;
        let target = Target::parse(subscriber).ok_or_else(|| {
            Failure::new(None, format!("{subscriber:?} is not a deliverable URI"))
        })?;
        let limit = self.limit(subscriber);
        let _permit = limit
            .acquire_owned()
            .await
            .map_err(|_| Failure::new(None, "shutting down"))?;
        match target {
            Target::Webhook(url) => self.webhook(&url, attempt).await,
            Target::Mail { to, subject } => self.mail(&to, subject, attempt).await,
        }
    }

    async fn webhook(&self, url: &url::Url, attempt: &Attempt<'_>) -> Result<u16, Failure> {
        if let Some(why) = guard::check_literal(&self.settings.policy, url) {
            return Err(Failure::new(None, why));
        }
        let options = &attempt.subscription.options;
        let body = document::webhook_body(attempt.document, options);
        let mut request = self
            .http
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json");
        if let Some(Value::Object(headers)) = options.get("post_headers") {
            for (name, value) in headers {
                let value = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if let (Ok(n), Ok(v)) = (
                    HeaderName::try_from(name.as_str()),
                    HeaderValue::try_from(value),
                ) {
                    request = request.header(n, v);
                }
            }
        }
        // A token in `post_headers` wins, as in Zaqar, whose headers take those options last.
        let own_token = matches!(options.get("post_headers"), Some(Value::Object(h))
            if h.keys().any(|k| k.eq_ignore_ascii_case("x-auth-token")));
        if needs_trust(&attempt.subscription.subscriber) && !own_token {
            if let Some(token) = self.trust_token(options).await? {
                request = request.header("X-Auth-Token", token);
            }
        }
        if let Some(key) = &self.settings.webhook_key {
            for (name, value) in key.headers(attempt.id, attempt.timestamp, &body) {
                request = request.header(name, value);
            }
        }
        match request.body(body).send().await {
            Ok(response) if response.status().is_success() => Ok(response.status().as_u16()),
            Ok(response) => {
                let status = response.status();
                Err(Failure::new(
                    Some(status.as_u16()),
                    format!("the subscriber answered {status}"),
                ))
            }
            Err(e) => Err(Failure::new(None, describe(&e, self.settings.timeout))),
        }
    }

    /// The token a `trust+` delivery carries: one through the subscription's trust, asked
    /// for each delivery as Zaqar does (`None` without Keystone: a plain webhook then).
    async fn trust_token(
        &self,
        options: &serde_json::Map<String, Value>,
    ) -> Result<Option<HeaderValue>, Failure> {
        if !self.auth.requires_token() {
            return Ok(None);
        }
        let trust_id = options
            .get(TRUST_ID)
            .and_then(Value::as_str)
            .ok_or_else(|| Failure::new(None, "a trust+ subscription without a trust_id option"))?;
        let token = self
            .auth
            .trust_token(trust_id)
            .await
            .map_err(|why| Failure::new(None, why))?;
        HeaderValue::try_from(token)
            .map(Some)
            .map_err(|_| Failure::new(None, "the identity service gave an unusable token"))
    }

    async fn mail(
        &self,
        to: &str,
        subject: Option<String>,
        attempt: &Attempt<'_>,
    ) -> Result<u16, Failure> {
        let Some(mailer) = &self.mailer else {
            return Err(Failure::new(
                None,
                "no SMTP relay is configured (--smtp-url)",
            ));
        };
        let options = &attempt.subscription.options;
        let option = |key: &str| options.get(key).and_then(Value::as_str).map(str::to_owned);
        let mails = &self.settings.mails;
        let template = match attempt.kind {
            NotificationKind::Notification => None,
            NotificationKind::SubscriptionConfirmation => Some(&mails.subscribe),
            NotificationKind::UnsubscribeConfirmation => Some(&mails.unsubscribe),
        };
        let (subject, from, body) = match template {
            None => {
                let from = option("from")
                    .filter(|f| !f.is_empty())
                    .unwrap_or_else(|| self.settings.mail_from.clone());
                (
                    subject.or_else(|| option("subject")),
                    from,
                    attempt.document.to_owned(),
                )
            }
            Some(template) => {
                let Some(page) = &mails.page else {
                    return Err(Failure::new(
                        None,
                        "a confirmation mail links to a page, and no \
                         --external-confirmation-url is set",
                    ));
                };
                let queue = attempt.subscription.source.as_str();
                let link = document::confirmation_link(page, attempt.document, queue);
                let project = serde_json::from_str::<Value>(attempt.document)
                    .ok()
                    .and_then(|d| d["X-Project-ID"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                let body = template.fill(queue, &project, &link);
                (Some(template.topic.clone()), template.sender.clone(), body)
            }
        };
        let bad =
            |what: &str, e: &dyn std::fmt::Display| Failure::new(None, format!("{what}: {e}"));
        let message = Message::builder()
            .from(from.parse().map_err(|e| bad("bad sender address", &e))?)
            .to(to.parse().map_err(|e| bad("bad recipient address", &e))?)
            .subject(subject.unwrap_or_default())
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| bad("cannot build the mail", &e))?;
        match mailer.send(message).await {
            Ok(response) => Ok(u16::from(response.code())),
            Err(e) => Err(Failure::new(
                e.status().map(u16::from),
                format!("the mail relay refused the mail: {e}"),
            )),
        }
    }
}

/// A transport error in words: timeout, refused connection, forbidden address, DNS.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {} ms", timeout.as_millis());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
