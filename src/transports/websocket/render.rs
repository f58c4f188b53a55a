//! Messages in Zaqar's WebSocket shapes (reference §7.8): no hrefs, `claim_id` on claimed
//! messages. Each action's own reply shape sits beside its decoder in `dispatch.rs`.

use serde_json::{json, Value};

use crate::model::Timestamp;
use crate::projections::MessageView;

/// A message as the WebSocket API shows it.
pub fn message(m: &MessageView, now: Timestamp, claimed: bool) -> Value {
    let body: Value = serde_json::from_str(m.body.get()).unwrap_or(Value::Null);
    json!({
        "id": m.id.as_str(),
        "claim_id": if claimed { m.claim.as_ref().map(|c| c.as_str()) } else { None },
        "ttl": m.ttl,
        "age": m.created_at.secs_until(now),
        "body": body,
    })
}

pub fn messages(list: &[MessageView], now: Timestamp, claimed: bool) -> Vec<Value> {
    list.iter().map(|m| message(m, now, claimed)).collect()
}
