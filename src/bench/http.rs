//! The REST side: one `reqwest` client per worker, holding one keep-alive connection (the
//! worker sends one request at a time).

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use super::request::{
    messages_of, ClaimSpec, Claimed, NewMessage, OpError, OpResult, REQUEST_TIMEOUT,
};

pub(crate) struct HttpConn {
    client: reqwest::Client,
    base: String,
}

#[derive(Serialize)]
struct PostDoc<'a> {
    messages: &'a [NewMessage<'a>],
}

#[derive(Serialize)]
struct ClaimDoc {
    ttl: u64,
    grace: u64,
}

/// A transport error with its causes (`reqwest` keeps "connection refused" in a source).
fn lost(e: reqwest::Error) -> OpError {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    OpError::Lost(text)
}

/// The last path segment of an href (`…/messages/ID`, `…/claims/ID?x=y`).
fn last_segment(href: &str) -> &str {
    let path = href.split('?').next().unwrap_or(href);
    path.rsplit('/').next().unwrap_or(path)
}

impl HttpConn {
    pub fn new(
        base: &str,
        client_id: &str,
        project: &str,
        token: Option<&str>,
    ) -> anyhow::Result<HttpConn> {
        let mut headers = HeaderMap::new();
        headers.insert("Client-ID", HeaderValue::from_str(client_id)?);
        headers.insert("X-Project-ID", HeaderValue::from_str(project)?);
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(token)?;
            value.set_sensitive(true);
            headers.insert("X-Auth-Token", value);
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .pool_max_idle_per_host(1)
            .tcp_nodelay(true)
            .timeout(REQUEST_TIMEOUT)
            .no_proxy()
            .build()?;
        Ok(HttpConn {
            client,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// Sends a request; returns the status, the `Location` header and the body.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> OpResult<(StatusCode, Option<String>, Vec<u8>)> {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }
        let response = request.send().await.map_err(lost)?;
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(lost)?;
        Ok((status, location, Vec::from(body)))
    }

    fn refused(status: StatusCode, body: &[u8]) -> OpError {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        OpError::Refused(status.as_u16(), text)
    }

    fn json(body: &[u8]) -> OpResult<Value> {
        serde_json::from_slice(body).map_err(|e| OpError::Lost(format!("unreadable body: {e}")))
    }

    /// `GET /v2/ping`: opens the connection before the clock starts.
    pub async fn ping(&mut self) -> OpResult<()> {
        match self.send(Method::GET, "/v2/ping", None).await? {
            (s, _, _) if s.is_success() => Ok(()),
            (s, _, body) => Err(Self::refused(s, &body)),
        }
    }

    pub async fn create_queue(&mut self, queue: &str) -> OpResult<()> {
        let path = format!("/v2/queues/{queue}");
        match self.send(Method::PUT, &path, None).await? {
            (StatusCode::CREATED | StatusCode::NO_CONTENT, _, _) => Ok(()),
            (s, _, body) => Err(Self::refused(s, &body)),
        }
    }

    /// Subscribes a webhook to the queue for the run's lifetime and more.
    pub async fn subscribe(&mut self, queue: &str, subscriber: &str) -> OpResult<()> {
        let doc = serde_json::json!({"subscriber": subscriber, "ttl": 86_400});
        let path = format!("/v2/queues/{queue}/subscriptions");
        let body = serde_json::to_vec(&doc).map_err(OpError::encode)?;
        match self.send(Method::POST, &path, Some(body)).await? {
            (StatusCode::CREATED, _, _) => Ok(()),
            (s, _, body) => Err(Self::refused(s, &body)),
        }
    }

    pub async fn post(
        &mut self,
        queue: &str,
        messages: &[NewMessage<'_>],
    ) -> OpResult<Vec<String>> {
        let doc = serde_json::to_vec(&PostDoc { messages }).map_err(OpError::encode)?;
        let path = format!("/v2/queues/{queue}/messages");
        match self.send(Method::POST, &path, Some(doc)).await? {
            (StatusCode::CREATED, _, body) => {
                let doc = Self::json(&body)?;
                let ids = doc["resources"]
                    .as_array()
                    .map(|list| {
                        list.iter()
                            .filter_map(Value::as_str)
                            .map(|href| last_segment(href).to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(ids)
            }
            (s, _, body) => Err(Self::refused(s, &body)),
        }
    }

    pub async fn claim(&mut self, queue: &str, spec: ClaimSpec) -> OpResult<Option<Claimed>> {
        let (ttl, grace) = (spec.ttl, spec.grace);
        let doc = serde_json::to_vec(&ClaimDoc { ttl, grace }).map_err(OpError::encode)?;
        let path = format!("/v2/queues/{queue}/claims?limit={}", spec.limit);
        match self.send(Method::POST, &path, Some(doc)).await? {
            (StatusCode::NO_CONTENT, _, _) => Ok(None),
            (StatusCode::CREATED, location, body) => {
                let claim_id = location
                    .as_deref()
                    .map(last_segment)
                    .unwrap_or_default()
                    .to_owned();
                let messages = messages_of(Self::json(&body)?);
                Ok(Some(Claimed { claim_id, messages }))
            }
            (s, _, body) => Err(Self::refused(s, &body)),
        }
    }

    /// `DELETE …/messages?ids=…&claim_ids=…` (the claim is named so that servers run with
    /// `message_delete_with_claim_id` accept it too).
    pub async fn delete(&mut self, queue: &str, ids: &[String], claim: &str) -> OpResult<()> {
        let path = format!(
            "/v2/queues/{queue}/messages?ids={}&claim_ids={claim}",
            ids.join(",")
        );
        match self.send(Method::DELETE, &path, None).await? {
            (StatusCode::NO_CONTENT, _, _) => Ok(()),
            (s, _, body) => Err(Self::refused(s, &body)),
        }
    }

    pub async fn list(&mut self, queue: &str) -> OpResult<Vec<Value>> {
        let path = format!("/v2/queues/{queue}/messages?echo=true");
        match self.send(Method::GET, &path, None).await? {
            (StatusCode::NO_CONTENT, _, _) => Ok(Vec::new()),
            (StatusCode::OK, _, body) => Ok(messages_of(Self::json(&body)?)),
            (s, _, body) => Err(Self::refused(s, &body)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::last_segment;

    #[test]
    fn ids_are_the_last_segment() {
        assert_eq!(last_segment("/v2/queues/q/messages/abc"), "abc");
        assert_eq!(last_segment("/v2/queues/q/claims/c1?x=y"), "c1");
    }
}
