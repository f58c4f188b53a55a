//! The wire protocols. Each transport only decodes its format into an action of
//! `actions`, calls `actions::execute`, and renders the action's reply; it holds no business rules. `views`
//! holds the JSON shapes both transports share.

pub mod http;
pub mod listener;
pub mod views;
pub mod websocket;
