//! Authentication and its signatures. Today: Zaqar's pre-signed URL algorithm, which the
//! notification engine uses to sign subscription confirmation requests.

pub mod signed_url;
