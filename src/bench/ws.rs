//! The WebSocket side: one connection per worker, one request in flight at a time, each a
//! Zaqar envelope `{action, headers, body}` as JSON text or MessagePack binary frames. A
//! connection that fails or times out is dropped and reopened before the next request.

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::request::{
    messages_of, ClaimSpec, Claimed, NewMessage, OpError, OpResult, REQUEST_TIMEOUT,
};
use super::Codec;

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Serialize)]
struct Headers {
    #[serde(rename = "Client-ID")]
    client_id: String,
    #[serde(rename = "X-Project-ID")]
    project: String,
}

#[derive(Serialize)]
struct Envelope<'a, B> {
    action: &'a str,
    headers: &'a Headers,
    body: B,
}

#[derive(Serialize)]
struct PostBody<'a> {
    queue_name: &'a str,
    messages: &'a [NewMessage<'a>],
}

#[derive(Serialize)]
struct ClaimBody<'a> {
    queue_name: &'a str,
    limit: usize,
    ttl: u64,
    grace: u64,
}

#[derive(Serialize)]
struct DeleteBody<'a> {
    queue_name: &'a str,
    message_ids: &'a [String],
    claim_ids: [&'a str; 1],
}

/// A response envelope; the echoed `request` is skipped.
#[derive(Deserialize)]
struct Reply {
    headers: ReplyHeaders,
    #[serde(default)]
    body: Value,
}

#[derive(Deserialize)]
struct ReplyHeaders {
    status: u16,
}

pub(crate) struct WsConn {
    url: String,
    codec: Codec,
    headers: Headers,
    stream: Option<Stream>,
}

async fn connect(url: &str) -> OpResult<Stream> {
    let opening = tokio_tungstenite::connect_async_with_config(url, None, true);
    match tokio::time::timeout(REQUEST_TIMEOUT, opening).await {
        Ok(Ok((stream, _))) => Ok(stream),
        Ok(Err(e)) => Err(OpError::Lost(format!("cannot open {url}: {e}"))),
        Err(_) => Err(OpError::Lost(format!("cannot open {url}: timed out"))),
    }
}

impl WsConn {
    pub async fn open(
        url: &str,
        codec: Codec,
        client_id: &str,
        project: &str,
    ) -> anyhow::Result<WsConn> {
        let stream = connect(url).await?;
        Ok(WsConn {
            url: url.to_owned(),
            codec,
            headers: Headers {
                client_id: client_id.to_owned(),
                project: project.to_owned(),
            },
            stream: Some(stream),
        })
    }

    fn encode<B: Serialize>(&self, action: &str, body: B) -> OpResult<Message> {
        let doc = Envelope {
            action,
            headers: &self.headers,
            body,
        };
        Ok(match self.codec {
            Codec::Json => Message::text(serde_json::to_string(&doc).map_err(OpError::encode)?),
            Codec::Msgpack => {
                Message::binary(rmp_serde::to_vec_named(&doc).map_err(OpError::encode)?)
            }
        })
    }

    /// Sends one request and waits for its answer: `(status, body)`.
    async fn call<B: Serialize>(&mut self, action: &str, body: B) -> OpResult<(u16, Value)> {
        let frame = self.encode(action, body)?;
        let stream = match &mut self.stream {
            Some(stream) => stream,
            None => self.stream.insert(connect(&self.url).await?),
        };
        let exchange = async {
            stream
                .send(frame)
                .await
                .map_err(|e| OpError::Lost(e.to_string()))?;
            loop {
                let reply: Reply = match stream.next().await {
                    Some(Ok(Message::Text(text))) => serde_json::from_str(&text)
                        .map_err(|e| OpError::Lost(format!("unreadable answer: {e}")))?,
                    Some(Ok(Message::Binary(bytes))) => rmp_serde::from_slice(&bytes)
                        .map_err(|e| OpError::Lost(format!("unreadable answer: {e}")))?,
                    // Pings are answered by the library; nothing else is expected here.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Close(frame))) => {
                        return Err(OpError::Lost(format!("connection closed: {frame:?}")))
                    }
                    Some(Err(e)) => return Err(OpError::Lost(e.to_string())),
                    None => return Err(OpError::Lost("connection closed".into())),
                };
                return Ok((reply.headers.status, reply.body));
            }
        };
        let outcome = match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => Err(OpError::Lost(format!("no answer to {action} in time"))),
        };
        if matches!(outcome, Err(OpError::Lost(_))) {
            // The stream may be out of step with our requests: start afresh next time.
            self.stream = None;
        }
        outcome
    }

    fn refused(status: u16, body: &Value) -> OpError {
        let mut text = body.to_string();
        text.truncate(300);
        OpError::Refused(status, text)
    }

    pub async fn create_queue(&mut self, queue: &str) -> OpResult<()> {
        match self
            .call("queue_create", json!({ "queue_name": queue }))
            .await?
        {
            (201 | 204, _) => Ok(()),
            (status, body) => Err(Self::refused(status, &body)),
        }
    }

    /// Subscribes a webhook to the queue (a subscription with a subscriber is stored, not
    /// bound to this connection).
    pub async fn subscribe(&mut self, queue: &str, subscriber: &str) -> OpResult<()> {
        let body = json!({"queue_name": queue, "subscriber": subscriber, "ttl": 86_400});
        match self.call("subscription_create", body).await? {
            (201, _) => Ok(()),
            (status, body) => Err(Self::refused(status, &body)),
        }
    }

    pub async fn post(
        &mut self,
        queue: &str,
        messages: &[NewMessage<'_>],
    ) -> OpResult<Vec<String>> {
        let body = PostBody {
            queue_name: queue,
            messages,
        };
        match self.call("message_post", body).await? {
            (201, body) => Ok(body["message_ids"]
                .as_array()
                .map(|ids| {
                    ids.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()),
            (status, body) => Err(Self::refused(status, &body)),
        }
    }

    pub async fn claim(&mut self, queue: &str, spec: ClaimSpec) -> OpResult<Option<Claimed>> {
        let body = ClaimBody {
            queue_name: queue,
            limit: spec.limit,
            ttl: spec.ttl,
            grace: spec.grace,
        };
        match self.call("claim_create", body).await? {
            (204, _) => Ok(None),
            (201, body) => {
                let claim_id = body["claim_id"].as_str().unwrap_or_default().to_owned();
                Ok(Some(Claimed {
                    claim_id,
                    messages: messages_of(body),
                }))
            }
            (status, body) => Err(Self::refused(status, &body)),
        }
    }

    pub async fn delete(&mut self, queue: &str, ids: &[String], claim: &str) -> OpResult<()> {
        let body = DeleteBody {
            queue_name: queue,
            message_ids: ids,
            claim_ids: [claim],
        };
        match self.call("message_delete_many", body).await? {
            (204, _) => Ok(()),
            (status, body) => Err(Self::refused(status, &body)),
        }
    }

    pub async fn list(&mut self, queue: &str) -> OpResult<Vec<Value>> {
        let body = json!({ "queue_name": queue, "echo": true });
        match self.call("message_list", body).await? {
            (200, body) => Ok(messages_of(body)),
            (204, _) => Ok(Vec::new()),
            (status, body) => Err(Self::refused(status, &body)),
        }
    }
}
