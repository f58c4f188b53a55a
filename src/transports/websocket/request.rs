//! What a decoded frame is: the action it asks for ([`Request`], an action of `actions`
//! paired with how its reply renders in Zaqar's WebSocket shapes), the frame a decoder reads
//! ([`Frame`]) and why a frame is refused ([`Refusal`]). The decoders (`dispatch`,
//! `catalogue`) build on these.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value};

use super::protocol::Rejection;
use crate::actions::{execute, Action, Context};
use crate::error::ApiError;
use crate::model::{Limits, ProjectId, QueueName, Timestamp};
use crate::state::Core;

/// What a frame asks for.
pub enum Request {
    /// An API action, with how its reply is rendered.
    Api(Box<dyn Call>),
    /// A push subscription of this connection to a queue.
    Subscribe {
        queue: QueueName,
        ttl: Option<i64>,
        options: Option<Map<String, Value>>,
    },
    /// Answered without touching the store.
    Immediate(u16, Value),
}

/// A decoded action and its renderer, whatever the action's reply type.
pub trait Call: Send {
    /// The REST method and path with the same effect (see [`Action::guard`]).
    fn route(&self) -> (&'static str, String);
    /// Runs the action; status, body and the log position of its writes.
    fn call<'a>(self: Box<Self>, core: &'a Core, ctx: &'a Context) -> Outcome<'a>;
}

/// What running a [`Call`] yields.
pub type Outcome<'a> = Pin<Box<dyn Future<Output = (u16, Value, Option<i64>)> + Send + 'a>>;

/// An action, how its reply renders (given the time of rendering), and the failures it
/// reports differently from REST.
pub(super) struct Rendered<A, R, E> {
    pub action: A,
    pub render: R,
    pub on_error: E,
}

impl<A, R, E> Call for Rendered<A, R, E>
where
    A: Action + 'static,
    A::Reply: Send,
    R: FnOnce(A::Reply, Timestamp) -> (u16, Value) + Send + 'static,
    E: FnOnce(&ApiError) -> Option<(u16, Value)> + Send + 'static,
{
    fn route(&self) -> (&'static str, String) {
        let guard = self.action.guard(false);
        (guard.method, guard.path)
    }

    fn call<'a>(self: Box<Self>, core: &'a Core, ctx: &'a Context) -> Outcome<'a> {
        Box::pin(async move {
            let Rendered {
                action,
                render,
                on_error,
            } = *self;
            match execute(core, ctx, action).await {
                Ok(answer) => {
                    let (status, body) = render(answer.reply, core.clock.now());
                    (status, body, answer.seq)
                }
                Err(e) => {
                    let (status, body) =
                        on_error(&e).unwrap_or_else(|| super::error::status_and_body(&e));
                    (status, body, None)
                }
            }
        })
    }
}

/// An action whose failures render as everywhere else.
pub(super) fn api<A, R>(action: A, render: R) -> Result<Request, Refusal>
where
    A: Action + 'static,
    A::Reply: Send,
    R: FnOnce(A::Reply, Timestamp) -> (u16, Value) + Send + 'static,
{
    let on_error = |_: &ApiError| None;
    Ok(Request::Api(Box::new(Rendered {
        action,
        render,
        on_error,
    })))
}

/// A frame's action name and body, with what decoding needs.
pub struct Frame<'a> {
    pub body: &'a Map<String, Value>,
    pub project: &'a ProjectId,
    pub limits: &'a Limits,
    pub now: Timestamp,
    /// Whether the admin actions are served (`--admin-mode`).
    pub admin: bool,
}

impl Frame<'_> {
    pub(super) fn queue(&self) -> Result<QueueName, Refusal> {
        Ok(QueueName::new(self.field("queue_name")?, self.project)?)
    }

    pub(super) fn field(&self, name: &str) -> Result<&str, Rejection> {
        self.body
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(Rejection::schema)
    }

    pub(super) fn text(&self, name: &str) -> Result<Option<String>, Rejection> {
        match self.body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(Rejection::schema()),
        }
    }

    pub(super) fn int(&self, name: &str) -> Result<Option<i64>, Rejection> {
        match self.body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(Rejection::schema),
        }
    }

    pub(super) fn flag(&self, name: &str) -> Result<bool, Rejection> {
        match self.body.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(v) => v.as_bool().ok_or_else(Rejection::schema),
        }
    }

    pub(super) fn strings(&self, name: &str) -> Result<Option<Vec<String>>, Rejection> {
        match self.body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned).ok_or_else(Rejection::schema))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(Rejection::schema()),
        }
    }
}

/// A frame failed either before its action (rejection) or in the action's own validation.
#[derive(Debug)]
pub enum Refusal {
    Rejected(Rejection),
    Invalid(ApiError),
}

impl From<Rejection> for Refusal {
    fn from(r: Rejection) -> Self {
        Refusal::Rejected(r)
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Invalid(e)
    }
}
