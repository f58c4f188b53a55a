//! The wire protocols. Each transport only decodes its format into `actions::Request`,
//! calls `actions::execute`, and renders the reply; it holds no business rules. `views`
//! holds the JSON shapes both transports share.

pub mod http;
pub mod views;
pub mod websocket;
