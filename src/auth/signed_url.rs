//! Zaqar's pre-signed URLs (reference §1.11): the signature over paths, methods, project and
//! expiry, computed exactly as Zaqar's `common/urls.py` does, so that URLs signed by Zaqar
//! verify here and the reverse. The separators are the two characters backslash and `n`.
//!
//! Verification differs from Zaqar's where Zaqar is unsafe: the signature is compared in
//! constant time, an empty signature is a failed one (never "no signature"), and a signed
//! path grants itself and what lies below it (`…/messages` grants `…/messages/{id}`), not
//! any path it happens to match as a regular expression.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::model::Timestamp;

/// What a signed URL grants, and its signature; serialized as `share` answers it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignedUrl {
    /// Sorted.
    pub paths: Vec<String>,
    /// Sorted.
    pub methods: Vec<String>,
    pub project: String,
    /// `YYYY-MM-DDTHH:MM:SS`, UTC.
    pub expires: String,
    /// Lower-case hex HMAC-SHA256.
    pub signature: String,
}

/// What a verified signature grants: these methods on these paths (and below them), in
/// `project`, until `expires`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub paths: Vec<String>,
    pub methods: Vec<String>,
    pub project: String,
    pub expires: Timestamp,
}

impl Grant {
    /// Whether the grant covers `method` on `path`.
    pub fn permits(&self, method: &str, path: &str) -> bool {
        self.methods.iter().any(|m| m == method)
            && self.paths.iter().any(|p| {
                !p.is_empty()
                    && path
                        .strip_prefix(p.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
    }
}

/// The signed-URL headers of a request, as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Presented {
    pub signature: String,
    pub expires: Option<String>,
    pub methods: Vec<String>,
    pub paths: Vec<String>,
    /// The `X-Project-ID` header; Zaqar signs the text `None` when there is none.
    pub project: Option<String>,
}

/// Checks a presented signature: well-formed, unexpired at `now`, and made with `key`.
/// Which method and path it may reach is the caller's check ([`Grant::permits`]).
pub fn verify(key: &[u8], presented: &Presented, now: Timestamp) -> Option<Grant> {
    let expires = parse_expires(presented.expires.as_deref()?).ok()?;
    if expires.0 <= now.0 {
        return None;
    }
    let signature = hex::decode(presented.signature.trim()).ok()?;
    let project = presented.project.as_deref().unwrap_or("None");
    let mut paths = presented.paths.clone();
    let mut methods = presented.methods.clone();
    paths.sort();
    methods.sort();
    mac(key, &paths, &methods, project, &expires_text(expires))
        .verify_slice(&signature)
        .ok()?;
    Some(Grant {
        paths,
        methods,
        project: project.to_owned(),
        expires,
    })
}

/// An `expires` value as Zaqar accepts one, in signing and in verification alike: an ISO
/// 8601 instant with or without fractional seconds and offset (none means UTC), or a bare
/// date — never a bare integer. The error is Zaqar's explanation.
pub fn parse_expires(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if text.parse::<i64>().is_ok() {
        return Err(format!(
            "`expires` should be date format, for example 2016-01-01T00:00:00, not integer \
             value: {text}"
        ));
    }
    parse_instant(text).ok_or_else(|| {
        format!("`expires` must be an ISO 8601 time such as 2016-01-01T00:00:00, not {text:?}")
    })
}

fn parse_instant(text: &str) -> Option<Timestamp> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(Timestamp(at.timestamp_millis()));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(at) = chrono::DateTime::parse_from_str(text, format) {
            return Some(Timestamp(at.timestamp_millis()));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(at) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(Timestamp(at.and_utc().timestamp_millis()));
        }
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(Timestamp(
        date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis(),
    ))
}

/// The HMAC of the signed text (sorted `paths` and `methods`), whose separators are
/// backslash and `n`, as in Zaqar.
fn mac(
    key: &[u8],
    paths: &[String],
    methods: &[String],
    project: &str,
    expires: &str,
) -> Hmac<Sha256> {
    let text = format!(
        r"{}\n{}\n{}\n{}",
        paths.join(","),
        methods.join(","),
        project,
        expires
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(text.as_bytes());
    mac
}

/// An expiry instant as Zaqar writes it in signed URLs.
pub fn expires_text(at: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(at.0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// Signs `paths` for `methods` in `project` until `expires` with `key`.
pub fn sign(
    key: &[u8],
    paths: &[&str],
    methods: &[&str],
    project: &str,
    expires: Timestamp,
) -> SignedUrl {
    let mut paths: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
    let mut methods: Vec<String> = methods.iter().map(|m| (*m).to_owned()).collect();
    paths.sort();
    methods.sort();
    let expires = expires_text(expires);
    let signature = mac(key, &paths, &methods, project, &expires).finalize();
    SignedUrl {
        signature: hex::encode(signature.into_bytes()),
        paths,
        methods,
        project: project.to_owned(),
        expires,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of Zaqar 23's algorithm (`create_signed_url(b"test", ["/v2/queues/shared/messages"],
    /// project="p", expires="2030-01-01T00:00:00", methods=["POST", "GET"])`), computed in Python.
    #[test]
    fn signatures_match_zaqar() {
        let expires = Timestamp(1_893_456_000_000);
        let url = sign(
            b"test",
            &["/v2/queues/shared/messages"],
            &["POST", "GET"],
            "p",
            expires,
        );
        assert_eq!(url.expires, "2030-01-01T00:00:00");
        assert_eq!(url.methods, ["GET", "POST"]);
        assert_eq!(
            url.signature,
            "a71627c44a2402965ea68102b9d091e12b4efbda2abd23949e89bcd035c02eb7"
        );
    }

    fn presented(url: &SignedUrl) -> Presented {
        Presented {
            signature: url.signature.clone(),
            expires: Some(url.expires.clone()),
            methods: url.methods.clone(),
            paths: url.paths.clone(),
            project: Some(url.project.clone()),
        }
    }

    #[test]
    fn what_is_signed_verifies_and_nothing_else() {
        let expires = Timestamp(1_893_456_000_000);
        let now = Timestamp(1_800_000_000_000);
        let url = sign(b"k", &["/v2/queues/q/messages"], &["GET"], "p", expires);
        let grant = verify(b"k", &presented(&url), now).expect("verifies");
        assert!(grant.permits("GET", "/v2/queues/q/messages"));
        assert!(grant.permits("GET", "/v2/queues/q/messages/abc"));
        assert!(!grant.permits("POST", "/v2/queues/q/messages"));
        assert!(!grant.permits("GET", "/v2/queues/q/messagesx"));
        assert!(!grant.permits("GET", "/v2/queues/q2/messages"));
        assert!(!grant.permits("GET", "/v2/queues/q/claims"));
        // Another key, project, method list or expiry: no grant.
        assert!(verify(b"other", &presented(&url), now).is_none());
        let mut p = presented(&url);
        p.project = Some("p2".into());
        assert!(verify(b"k", &p, now).is_none());
        let mut p = presented(&url);
        p.methods.push("DELETE".into());
        assert!(verify(b"k", &p, now).is_none());
        let mut p = presented(&url);
        p.signature = String::new();
        assert!(verify(b"k", &p, now).is_none());
        let mut p = presented(&url);
        p.expires = Some("1893456000".into());
        assert!(verify(b"k", &p, now).is_none());
        assert!(verify(b"k", &presented(&url), Timestamp(expires.0 + 1)).is_none());
    }

    #[test]
    fn expiry_formats() {
        let at = Timestamp(1_893_456_000_000);
        assert_eq!(parse_expires("2030-01-01T00:00:00"), Ok(at));
        assert_eq!(parse_expires("2030-01-01T00:00:00Z"), Ok(at));
        assert_eq!(parse_expires("2030-01-01T01:00:00+01:00"), Ok(at));
        assert_eq!(parse_expires("2030-01-01T00:00:00.000"), Ok(at));
        assert_eq!(parse_expires("2030-01-01"), Ok(at));
        assert!(parse_expires("not a real date").is_err());
        assert!(parse_expires("1893456000").is_err());
    }
}
