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
