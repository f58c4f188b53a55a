//! The documents a subscriber receives, shaped as Zaqar sends them: a posted message with
//! `Message_Type` and `queue_name` (reference §6.4), and the signed confirmation requests of
//! §6.8. Pure functions of the event and the subscription.

use serde_json::{json, Map, Value};

use crate::auth::signed_url;
use crate::events::{NotificationKind, PostedMessage};
use crate::model::{ProjectId, QueueName, Timestamp};
use crate::projections::SubscriptionView;

/// The notification of one posted message, as JSON text: `{"ttl", "body", ["delay",]
/// "Message_Type", "queue_name"}` (no id, as in Zaqar). `posted_at` is the posting event's
/// time. Written around the body's stored text, which is already compact JSON, so a
/// notification never parses the body.
pub fn notification(message: &PostedMessage, posted_at: Timestamp, queue: &QueueName) -> String {
    let body = message.body.as_json();
    let queue = serde_json::to_string(queue.as_str()).unwrap_or_else(|_| "\"\"".into());
    let mut doc = String::with_capacity(body.len() + queue.len() + 80);
    doc.push_str("{\"ttl\":");
    doc.push_str(itoa::Buffer::new().format(message.ttl));
    doc.push_str(",\"body\":");
    doc.push_str(body);
    let delay = posted_at.secs_until(message.delay_until);
    if delay > 0 {
        doc.push_str(",\"delay\":");
        doc.push_str(itoa::Buffer::new().format(delay));
    }
    doc.push_str(",\"Message_Type\":\"Notification\",\"queue_name\":");
    doc.push_str(&queue);
    doc.push('}');
    doc
}

/// The confirmation (or unsubscribe) request for a subscription, signed with `key` for a
/// `PUT` on its confirm route until `expires`.
pub fn confirmation(
    kind: NotificationKind,
    subscription: &SubscriptionView,
    project: &ProjectId,
    key: &[u8],
    expires: Timestamp,
) -> String {
    let queue = subscription.source.as_str();
    let collection = match project.is_topics() {
        true => "topics",
        false => "queues",
    };
    let path = format!(
        "/v2/{collection}/{queue}/subscriptions/{}/confirm",
        subscription.id.as_str()
    );
    let project = project.public();
    let signed = signed_url::sign(key, &[&path], &["PUT"], project, expires);
    let (kind_name, message) = match kind {
        NotificationKind::UnsubscribeConfirmation => (
            "UnsubscribeConfirmation",
            format!(
                "You have unsubscribed successfully to the queue: {queue}, you can resubscribe \
                 it by using confirmed=True."
            ),
        ),
        _ => (
            "SubscriptionConfirmation",
            format!("You have chosen to subscribe to the queue: {queue}"),
        ),
    };
    json!({
        "Message_Type": kind_name,
        "Message": message,
        "URL-Signature": signed.signature,
        "URL-Methods": "PUT",
        "URL-Paths": path,
        "X-Project-ID": project,
        "URL-Expires": signed.expires,
        "SubscribeBody": {"confirmed": true},
        "UnsubscribeBody": {"confirmed": false},
        "queue_name": queue,
    })
    .to_string()
}

/// Zaqar's mail for a confirmation or unsubscribe request. In `body`, `{0}` stands for the
/// queue, `{1}` for the project and `{2}` for the link (Python's `str.format` positions;
/// `{{` and `}}` are braces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailTemplate {
    pub topic: String,
    pub body: String,
    pub sender: String,
}

/// What Zaqar's confirmation and unsubscribe mails are made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationMails {
    /// The page a confirmation link opens (Zaqar's `external_confirmation_url`). Without
    /// it no such mail is sent, as in Zaqar.
    pub page: Option<String>,
    pub subscribe: MailTemplate,
    pub unsubscribe: MailTemplate,
}

impl Default for ConfirmationMails {
    fn default() -> Self {
        let template = |topic: &str, body: &str| MailTemplate {
            topic: topic.into(),
            body: body.into(),
            sender: MAIL_SENDER.into(),
        };
        ConfirmationMails {
            page: None,
            subscribe: template(CONFIRMATION_TOPIC, CONFIRMATION_BODY),
            unsubscribe: template(UNSUBSCRIBE_TOPIC, UNSUBSCRIBE_BODY),
        }
    }
}

/// The sender of Zaqar's confirmation and unsubscribe mails.
pub const MAIL_SENDER: &str = "Zaqar Notifications <no-reply@openstack.org>";
/// Zaqar's subject of a subscription confirmation mail.
pub const CONFIRMATION_TOPIC: &str = "Zaqar Notification - Subscription Confirmation";
/// Zaqar's body of a subscription confirmation mail.
pub const CONFIRMATION_BODY: &str = "You have chosen to subscribe to the queue: {0}. This queue \
    belongs to project: {1}. To confirm this subscription, click or visit this link below: {2}";
/// Zaqar's subject of an unsubscribe confirmation mail.
pub const UNSUBSCRIBE_TOPIC: &str = "Zaqar Notification - Unsubscribe Confirmation";
/// Zaqar's body of an unsubscribe confirmation mail.
pub const UNSUBSCRIBE_BODY: &str = "You have unsubscribed successfully to the queue: {0}. This \
    queue belongs to project: {1}. To resubscribe this subscription, click or visit this link \
    below: {2}";

impl MailTemplate {
    /// The body, its three fields filled in.
    pub fn fill(&self, queue: &str, project: &str, link: &str) -> String {
        let fields = [queue, project, link];
        let mut out = String::with_capacity(self.body.len() + link.len());
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find(['{', '}']) {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            let field = tail
                .strip_prefix('{')
                .and_then(|t| t.split_once('}'))
                .and_then(|(n, after)| Some((fields.get(n.parse::<usize>().ok()?)?, after)));
            rest = match (field, tail.get(..2)) {
                (_, Some("{{")) | (_, Some("}}")) => {
                    out.push_str(&tail[..1]);
                    &tail[2..]
                }
                (Some((value, after)), _) => {
                    out.push_str(value);
                    after
                }
                (None, _) => {
                    out.push_str(&tail[..1]);
                    &tail[1..]
                }
            };
        }
        out.push_str(rest);
        out
    }
}

/// The link of a confirmation mail: the page at `page` (Zaqar's
/// `external_confirmation_url`), given what it needs to confirm through the API, under
/// Zaqar's parameter names. `document` is the request's JSON ([`confirmation`]).
pub fn confirmation_link(page: &str, document: &str, queue: &str) -> String {
    let doc: Value = serde_json::from_str(document).unwrap_or_default();
    let field = |key: &str| match &doc[key] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, key) in [
        ("Signature", "URL-Signature"),
        ("Methods", "URL-Methods"),
        ("Paths", "URL-Paths"),
        ("Project", "X-Project-ID"),
        ("Expires", "URL-Expires"),
        ("Url", "WSGISubscribeURL"),
    ] {
        query.append_pair(name, &field(key));
    }
    query.append_pair("Queue", queue);
    format!("{page}?{}", query.finish())
}

/// The HTTP body for a webhook: the document as JSON, or the subscription's `post_data`
/// template with every `"$zaqar_message$"` (quotes included) replaced by it.
pub fn webhook_body(document: &str, options: &Map<String, Value>) -> String {
    match options.get("post_data") {
        Some(Value::String(template)) => template.replace("\"$zaqar_message$\"", document),
        // Zaqar takes a non-string template as it is, serialized.
        Some(other) if !other.is_null() => {
            other.to_string().replace("\"$zaqar_message$\"", document)
        }
        _ => document.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MessageBody, MessageId, SubscriptionId};

    #[test]
    fn a_notification_is_the_posted_message_with_zaqars_two_keys() {
        let p = ProjectId::new(Some("p")).unwrap();
        let q = QueueName::new("orders", &p).unwrap();
        let m = PostedMessage {
            id: MessageId::generate(),
            marker: 1,
            body: MessageBody::from_value(&json!({"event": "created"})),
            ttl: 300,
            expires_at: Timestamp(300_000),
            delay_until: Timestamp(0),
            checksum: None,
        };
        let doc = notification(&m, Timestamp(0), &q);
        assert!(serde_json::from_str::<Value>(&doc).is_ok());
        assert_eq!(
            doc,
            r#"{"ttl":300,"body":{"event":"created"},"Message_Type":"Notification","queue_name":"orders"}"#
        );
        let mut options = Map::new();
        options.insert(
            "post_data".into(),
            r#"{"alarm": "$zaqar_message$", "source": "zaqar"}"#.into(),
        );
        let body = webhook_body(&doc, &options);
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["alarm"]["body"]["event"], "created");
        assert_eq!(parsed["source"], "zaqar");
    }

    #[test]
    fn a_mail_template_fills_zaqars_three_positions() {
        let template = MailTemplate {
            topic: String::new(),
            body: "q={0} p={1} {{link}}: {2}; {0} again; {3} and {x} stay".into(),
            sender: String::new(),
        };
        assert_eq!(
            template.fill("orders", "acme", "https://x/?a=1"),
            "q=orders p=acme {link}: https://x/?a=1; orders again; {3} and {x} stay"
        );
        let zaqar = MailTemplate {
            topic: CONFIRMATION_TOPIC.into(),
            body: CONFIRMATION_BODY.into(),
            sender: MAIL_SENDER.into(),
        };
        assert_eq!(
            zaqar.fill("q", "p", "L"),
            "You have chosen to subscribe to the queue: q. This queue belongs to project: p. \
             To confirm this subscription, click or visit this link below: L"
        );
    }

    #[test]
    fn a_confirmation_link_carries_zaqars_parameters() {
        let doc = json!({"URL-Signature": "abc", "URL-Methods": "PUT",
            "URL-Paths": "/v2/queues/q/subscriptions/s/confirm", "X-Project-ID": "p 1",
            "URL-Expires": "2026-12-08T00:00:00"})
        .to_string();
        assert_eq!(
            confirmation_link("https://confirm.example/page", &doc, "q"),
            "https://confirm.example/page?Signature=abc&Methods=PUT\
             &Paths=%2Fv2%2Fqueues%2Fq%2Fsubscriptions%2Fs%2Fconfirm&Project=p+1\
             &Expires=2026-12-08T00%3A00%3A00&Url=&Queue=q"
        );
    }

    #[test]
    fn a_confirmation_is_signed_for_its_confirm_route() {
        let p = ProjectId::new(Some("p")).unwrap();
        let view = SubscriptionView {
            id: SubscriptionId::from_stored("s1".into()),
            source: QueueName::new("orders", &p).unwrap(),
            subscriber: "http://a".into(),
            ttl: 3600,
            options: Map::new(),
            created_at: Timestamp(0),
            expires_at: Timestamp(3_600_000),
            confirmed: false,
        };
        let expires = Timestamp(1_893_456_000_000);
        let doc: Value = serde_json::from_str(&confirmation(
            NotificationKind::SubscriptionConfirmation,
            &view,
            &p,
            b"k",
            expires,
        ))
        .unwrap();
        let path = "/v2/queues/orders/subscriptions/s1/confirm";
        assert_eq!(doc["URL-Paths"], path);
        assert_eq!(doc["URL-Expires"], "2030-01-01T00:00:00");
        let expected = signed_url::sign(b"k", &[path], &["PUT"], "p", expires).signature;
        assert_eq!(doc["URL-Signature"], expected.as_str());
        assert_eq!(doc["Message_Type"], "SubscriptionConfirmation");
    }
}
