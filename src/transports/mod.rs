//! The wire protocols. Each transport only decodes its format into `actions::Request`,
//! calls `actions::execute`, and renders the reply; it holds no business rules.

pub mod http;
