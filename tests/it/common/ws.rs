//! A WebSocket client for the integration tests: Zaqar request envelopes (reference §7.2)
//! sent as JSON text or MessagePack binary frames, answers decoded with the codec of their
//! frame, and notification frames (§7.9) set aside while a response is awaited. Every wait
//! is bounded, so a silent server fails a test instead of hanging it.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{new_uuid, TestServer};

/// The longest wait for any one frame.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// How a frame is encoded: JSON in text frames, MessagePack in binary frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Json,
    MsgPack,
}

impl Codec {
    pub const ALL: [Codec; 2] = [Codec::Json, Codec::MsgPack];

    /// A document as a frame of this codec (MessagePack maps with string keys).
    pub fn encode(self, doc: &Value) -> Message {
        match self {
            Codec::Json => Message::text(doc.to_string()),
            Codec::MsgPack => {
                Message::binary(rmp_serde::to_vec_named(doc).expect("a MessagePack document"))
            }
        }
    }

    /// Bytes that do not decode in this codec, as a frame of this codec.
    pub fn garbage(self) -> Message {
        match self {
            Codec::Json => Message::text("{\"action\": \"queue_list\", "),
            // 0xc1 is the one byte MessagePack never uses.
            Codec::MsgPack => Message::binary(vec![0xc1, 0x00, 0xff]),
        }
    }
}

/// What arrived on a connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A data frame, decoded.
    Doc(Codec, Value),
    /// A close frame, with its code and reason if it had any.
    Close(Option<(u16, String)>),
    /// The connection ended without (or after) a close frame.
    Ended,
}

/// A decoded response envelope (reference §7.4).
#[derive(Debug, Clone)]
pub struct WsResp {
    /// `headers.status`.
    pub status: u16,
    pub body: Value,
    /// The echoed request.
    pub request: Value,
    /// The whole envelope.
    pub raw: Value,
}

impl WsResp {
    /// Asserts the status, panicking with the whole response otherwise.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "unexpected status; response: {self:?}");
        self
    }

    /// Asserts an error answer: the status and a non-empty `error` text.
    #[track_caller]
    pub fn expect_error(&self, status: u16) -> &Self {
        self.expect(status);
        let error = self.body["error"].as_str().unwrap_or("");
        assert!(!error.is_empty(), "error without text; response: {self:?}");
        self
    }

    /// Asserts an error answer with exactly this `error` text.
    #[track_caller]
    pub fn expect_error_text(&self, status: u16, text: &str) -> &Self {
        self.expect(status);
        assert_eq!(
            self.body["error"], text,
            "unexpected error; response: {self:?}"
        );
        self
    }

    /// Asserts `400 {"error": "Schema validation failed."}`.
    #[track_caller]
    pub fn expect_schema_error(&self) -> &Self {
        self.expect_error_text(400, "Schema validation failed.")
    }

    /// The `error` text (empty if none).
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    /// The `messages` array of the body.
    #[track_caller]
    pub fn messages(&self) -> &Vec<Value> {
        self.body["messages"]
            .as_array()
            .unwrap_or_else(|| panic!("no messages array in {self:?}"))
    }

    /// The ids of the `messages` of the body, in order.
    #[track_caller]
    pub fn message_ids(&self) -> Vec<String> {
        self.messages()
            .iter()
            .map(|m| m["id"].as_str().expect("message id").to_owned())
            .collect()
    }
}

/// A request envelope.
pub fn envelope(action: &str, headers: Value, body: Value) -> Value {
    json!({"action": action, "headers": headers, "body": body})
}

/// One WebSocket connection speaking Zaqar's protocol as one client of one project.
pub struct WsClient {
    stream: WebSocketStream<TcpStream>,
    /// The codec of the requests this client sends (changeable between requests).
    pub codec: Codec,
    pub client_id: String,
    pub project: String,
    /// Notifications received while waiting for a response, oldest first.
    pushes: VecDeque<(Codec, Value)>,
}

impl WsClient {
    /// A connection to `server` with a fresh Client-ID in a fresh project.
    pub async fn open(server: &TestServer, codec: Codec) -> WsClient {
        let project = format!("project-{}", new_uuid());
        WsClient::connect(server, codec, &new_uuid(), &project).await
    }

    /// A connection to `server` as this client of this project.
    pub async fn connect(
        server: &TestServer,
        codec: Codec,
        client_id: &str,
        project: &str,
    ) -> WsClient {
        WsClient::connect_with_buffer(server, codec, client_id, project, None).await
    }

    /// [`WsClient::connect`] with a fixed socket receive buffer (to make a client that does
    /// not read fill the server's buffers quickly).
    pub async fn connect_with_buffer(
        server: &TestServer,
        codec: Codec,
        client_id: &str,
        project: &str,
        recv_buffer: Option<u32>,
    ) -> WsClient {
        let connect = async {
            let socket = TcpSocket::new_v4().expect("a socket");
            if let Some(size) = recv_buffer {
                socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
            }
            let tcp = socket.connect(server.addr).await.expect("TCP connect");
            tcp.set_nodelay(true).expect("TCP_NODELAY");
            tokio_tungstenite::client_async(server.ws_url(), tcp)
                .await
                .expect("WebSocket handshake")
                .0
        };
        let stream = tokio::time::timeout(RECV_TIMEOUT, connect)
            .await
            .expect("the WebSocket connection opens in time");
        WsClient {
            stream,
            codec,
            client_id: client_id.to_owned(),
            project: project.to_owned(),
            pushes: VecDeque::new(),
        }
    }

    /// The headers every request of this client carries.
    pub fn headers(&self) -> Value {
        json!({"Client-ID": self.client_id, "X-Project-ID": self.project})
    }

    /// Sends `action` with the default headers and `body`; returns the response.
    pub async fn send(&mut self, action: &str, body: Value) -> WsResp {
        let headers = self.headers();
        self.send_with_headers(action, headers, body).await
    }

    /// Sends `authenticate` with `token` as `X-Auth-Token`; returns the response.
    pub async fn authenticate(&mut self, token: &str) -> WsResp {
        let mut headers = self.headers();
        headers["X-Auth-Token"] = json!(token);
        self.send_with_headers("authenticate", headers, json!({}))
            .await
    }

    /// Sends `action` with these headers and `body`; returns the response.
    pub async fn send_with_headers(&mut self, action: &str, headers: Value, body: Value) -> WsResp {
        self.send_doc(&envelope(action, headers, body)).await;
        self.recv_response().await
    }

    /// Sends `doc` encoded with this client's codec (any document, not only envelopes).
    pub async fn send_doc(&mut self, doc: &Value) {
        let frame = self.codec.encode(doc);
        self.send_frame(frame).await;
    }

    /// Sends `doc` as a request and returns the response.
    pub async fn request(&mut self, doc: &Value) -> WsResp {
        self.send_doc(doc).await;
        self.recv_response().await
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, text: &str) {
        self.send_frame(Message::text(text.to_owned())).await;
    }

    /// Sends a raw binary frame.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.send_frame(Message::binary(bytes)).await;
    }

    /// Sends any frame, with a bounded wait.
    pub async fn send_frame(&mut self, frame: Message) {
        tokio::time::timeout(RECV_TIMEOUT, self.stream.send(frame))
            .await
            .expect("the frame is sent in time")
            .expect("the frame is sent");
    }

    /// The next frame, or `None` if nothing arrives within `wait`. Pings and pongs are
    /// skipped (the library answers pings).
    pub async fn next_frame(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline, self.stream.next()).await;
            let message = match next {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => return Some(Frame::Ended),
                Ok(Some(Ok(message))) => message,
            };
            return Some(match message {
                Message::Text(text) => {
                    let doc = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|e| panic!("a text frame that is not JSON ({e}): {text}"));
                    Frame::Doc(Codec::Json, doc)
                }
                Message::Binary(bytes) => {
                    let doc = rmp_serde::from_slice(&bytes).unwrap_or_else(|e| {
                        panic!("a binary frame that is not MessagePack ({e}): {bytes:?}")
                    });
                    Frame::Doc(Codec::MsgPack, doc)
                }
                Message::Close(frame) => {
                    Frame::Close(frame.map(|f| (u16::from(f.code), f.reason.to_string())))
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            });
        }
    }

    /// The next response envelope; notifications arriving first are kept for
    /// [`WsClient::recv_push`]. Panics if none arrives within [`RECV_TIMEOUT`], if it is not
    /// in the codec of the request, or if the connection ends.
    pub async fn recv_response(&mut self) -> WsResp {
        let deadline = tokio::time::Instant::now() + RECV_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_frame(left).await {
                None => panic!("no response within {RECV_TIMEOUT:?}"),
                Some(Frame::Doc(codec, doc)) if is_notification(&doc) => {
                    self.pushes.push_back((codec, doc));
                }
                Some(Frame::Doc(codec, raw)) => {
                    assert_eq!(
                        codec, self.codec,
                        "a response in another encoding than its request: {raw}"
                    );
                    let status = raw["headers"]["status"]
                        .as_u64()
                        .unwrap_or_else(|| panic!("a response without headers.status: {raw}"));
                    return WsResp {
                        status: u16::try_from(status).expect("a status code"),
                        body: raw["body"].clone(),
                        request: raw["request"].clone(),
                        raw,
                    };
                }
                Some(other) => panic!("the connection ended while awaiting a response: {other:?}"),
            }
        }
    }

    /// The next notification with the codec of its frame, within [`RECV_TIMEOUT`].
    pub async fn recv_push_frame(&mut self) -> (Codec, Value) {
        if let Some(push) = self.pushes.pop_front() {
            return push;
        }
        match self.next_frame(RECV_TIMEOUT).await {
            None => panic!("no notification within {RECV_TIMEOUT:?}"),
            Some(Frame::Doc(codec, doc)) if is_notification(&doc) => (codec, doc),
            Some(other) => panic!("expected a notification, got {other:?}"),
        }
    }

    /// The next notification document, within [`RECV_TIMEOUT`].
    pub async fn recv_push(&mut self) -> Value {
        self.recv_push_frame().await.1
    }

    /// Asserts that no notification is waiting and none arrives within `wait`.
    pub async fn expect_no_push(&mut self, wait: Duration) {
        if let Some(push) = self.pushes.front() {
            panic!("unexpected notification: {push:?}");
        }
        if let Some(frame) = self.next_frame(wait).await {
            panic!("expected silence, got {frame:?}");
        }
    }

    /// Closes the connection and waits (bounded) for the server to end it.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(RECV_TIMEOUT, self.stream.close(None)).await;
        let _ = self.wait_end(RECV_TIMEOUT).await;
    }

    /// Reads until the connection closes or ends: the notifications read on the way (plus
    /// those already set aside) and the close frame, if any. `None` if it has not ended
    /// within `wait`.
    pub async fn wait_end(&mut self, wait: Duration) -> Option<(usize, Frame)> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut pushes = self.pushes.len();
        self.pushes.clear();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_frame(left).await? {
                Frame::Doc(_, doc) if is_notification(&doc) => pushes += 1,
                Frame::Doc(_, doc) => panic!("an unexpected response: {doc}"),
                end => return Some((pushes, end)),
            }
        }
    }
}

/// Notifications are bare documents, told apart by the absence of `request` and `headers`.
pub fn is_notification(doc: &Value) -> bool {
    doc.get("request").is_none() && doc.get("headers").is_none()
}
