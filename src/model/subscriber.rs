//! Subscriber URIs and the addresses notifications may go to.
//!
//! A subscriber is a webhook (`http`, `https`, and `trust+http(s)`, delivered to the URL
//! without its `trust+` prefix, with a token through a Keystone trust under Keystone) or a
//! mail address (`mailto:`). [`AddressPolicy`] is the SSRF guard's rule: by
//! default nothing is delivered to loopback, private, link-local (cloud metadata included),
//! shared, multicast or unspecified addresses, unless `--notify-allow-hosts` names the host
//! or a network holding the address. The rule is applied when a subscription is created to
//! an address in the URL, however it is spelled, and to the names reserved for loopback;
//! and to every resolved address when a notification is sent.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

/// Where a subscriber's notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An HTTP POST to this URL (a `trust+` prefix removed).
    Webhook(url::Url),
    /// A mail to `to`; `subject` from the URI's `?subject=` query, if any.
    Mail { to: String, subject: Option<String> },
}

impl Target {
    /// Parses a subscriber URI; `None` for one no notification can be sent to (such as the
    /// WebSocket push subscriptions, which have no URI).
    pub fn parse(subscriber: &str) -> Option<Target> {
        let (scheme, rest) = subscriber.split_once(':')?;
        match scheme.to_ascii_lowercase().as_str() {
            "http" | "https" => webhook(subscriber),
            "trust+http" | "trust+https" => webhook(&subscriber["trust+".len()..]),
            "mailto" => {
                let (to, query) = rest.split_once('?').unwrap_or((rest, ""));
                let to = percent_decode(to);
                if !to.contains('@') || to.chars().any(|c| c.is_whitespace() || c == ',') {
                    return None;
                }
                let subject = form_urlencoded::parse(query.as_bytes())
                    .find(|(k, _)| k.eq_ignore_ascii_case("subject"))
                    .map(|(_, v)| v.into_owned());
                Some(Target::Mail { to, subject })
            }
            _ => None,
        }
    }
}

/// The option of a `trust+` subscription naming its Keystone trust (Zaqar's name).
pub const TRUST_ID: &str = "trust_id";

/// Whether the subscriber's deliveries carry a token through a Keystone trust.
pub fn needs_trust(subscriber: &str) -> bool {
    subscriber
        .split_once(':')
        .is_some_and(|(scheme, _)| scheme.to_ascii_lowercase().starts_with("trust+"))
}

fn webhook(uri: &str) -> Option<Target> {
    let url = url::Url::parse(uri).ok()?;
    url.host_str().filter(|h| !h.is_empty())?;
    Some(Target::Webhook(url))
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("a={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Why an address is closed to notifications, if it is.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let [first, second, ..] = v6.segments();
            if first == 0x0064 && second == 0xff9b {
                // NAT64 (64:ff9b::/96) reaches the IPv4 address inside.
                return forbidden_v4(Ipv4Addr::from_bits(v6.to_bits() as u32));
            }
            first_reason([
                (v6.is_loopback(), "loopback"),
                (v6.is_unspecified(), "unspecified"),
                (v6.is_multicast(), "multicast"),
                (first & 0xffc0 == 0xfe80, "link-local"),
                // Unique local, which holds cloud metadata's fd00:ec2::254.
                (first & 0xfe00 == 0xfc00, "private"),
            ])
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    first_reason([
        (ip.is_loopback(), "loopback"),
        (ip.is_private(), "private"),
        (ip.is_link_local(), "link-local (cloud metadata)"),
        (a == 0, "unspecified"),
        (
            a == 100 && (64..128).contains(&b),
            "shared (carrier-grade NAT)",
        ),
        (
            ip.is_multicast() || ip.is_broadcast() || a >= 240,
            "multicast or reserved",
        ),
    ])
}

/// Whether a host name is reserved for loopback (RFC 6761): `localhost` and the names
/// under it, with or without the final dot.
fn is_loopback_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// The reason of the first rule that holds.
fn first_reason<const N: usize>(rules: [(bool, &'static str); N]) -> Option<&'static str> {
    rules
        .into_iter()
        .find(|(holds, _)| *holds)
        .map(|(_, reason)| reason)
}

/// The exceptions of `--notify-allow-hosts`: networks (CIDR or single addresses) and host
/// names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    networks: Vec<IpNet>,
    hosts: Vec<String>,
}

impl AddressPolicy {
    /// Parses the entries of `--notify-allow-hosts`.
    pub fn new(entries: &[String]) -> Result<Self, String> {
        let mut policy = AddressPolicy::default();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            if let Ok(net) = entry.parse::<IpNet>() {
                policy.networks.push(net);
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                policy.networks.push(IpNet::from(ip));
            } else if entry
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                policy.hosts.push(entry.to_ascii_lowercase());
            } else {
                return Err(format!(
                    "{entry:?} in --notify-allow-hosts is neither a CIDR, an address nor a host name"
                ));
            }
        }
        Ok(policy)
    }

    /// Whether the host name is allowed whatever it resolves to.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.contains(&host)
    }

    /// Why a notification may not go to `ip` (through host `host`), if it may not.
    pub fn refuses(&self, host: &str, ip: IpAddr) -> Option<String> {
        if self.allows_host(host) || self.networks.iter().any(|n| n.contains(&ip)) {
            return None;
        }
        forbidden_reason(ip).map(|why| {
            format!(
                "{ip} is a {why} address; notifications may not go there unless \
                 --notify-allow-hosts allows it"
            )
        })
    }

    /// Why a subscriber is refused at creation: a URL whose host is a forbidden address,
    /// however it is spelled, or a name reserved for loopback. Other names that resolve to
    /// a forbidden address are refused at delivery, after resolution.
    pub fn refuses_subscriber(&self, subscriber: &str) -> Option<String> {
        let Some(Target::Webhook(url)) = Target::parse(subscriber) else {
            return None;
        };
        let host = url.host_str().unwrap_or_default();
        let address = match url.host()? {
            url::Host::Ipv6(v6) => IpAddr::V6(v6),
            // Every spelling the URL standard reads as an IPv4 address, as `inet_aton` does:
            // dotted, one number (`2852039166`), octal or hex parts, short forms (`127.1`).
            url::Host::Ipv4(v4) => IpAddr::V4(v4),
            url::Host::Domain(name) if is_loopback_name(name) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            url::Host::Domain(_) => return None,
        };
        self.refuses(host, address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: &AddressPolicy, uri: &str) -> bool {
        policy.refuses_subscriber(uri).is_some()
    }

    #[test]
    fn subscribers_parse() {
        assert!(matches!(
            Target::parse("trust+https://a.example/x"),
            Some(Target::Webhook(u)) if u.as_str() == "https://a.example/x"
        ));
        assert_eq!(
            Target::parse("mailto:ops@example.com?subject=Hello%20there"),
            Some(Target::Mail {
                to: "ops@example.com".into(),
                subject: Some("Hello there".into())
            })
        );
        assert_eq!(Target::parse("mailto:nobody"), None);
        assert_eq!(Target::parse("http://"), None);
        assert_eq!(Target::parse(""), None);
    }

    #[test]
    fn only_trust_schemes_need_a_trust() {
        assert!(needs_trust("trust+https://a.example/x"));
        assert!(needs_trust("TRUST+http://a.example/x"));
        assert!(!needs_trust("https://a.example/trust+x"));
        assert!(!needs_trust("mailto:trust+me@example.com"));
        assert!(!needs_trust("trust"));
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        let none = AddressPolicy::default();
        for uri in [
            "http://127.0.0.1:8080/x",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://224.0.0.1/",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00:ec2::254]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            // Other spellings of the same addresses.
            "http://2852039166/",
            "http://0251.0376.0251.0376/",
            "http://0xa9fea9fe/",
            "http://0xA9.0xFE.0xA9.0xFE/",
            "http://0/",
            "http://1",
            "http://127.1/",
            "http://0177.0.0.1/",
            "trust+http://2130706433/",
            "http://localhost:9/",
            "http://localhost./",
            "http://LOCALHOST/",
            "http://api.localhost/",
        ] {
            assert!(refused(&none, uri), "{uri} must be refused");
        }
        for uri in [
            "http://93.184.215.14/",
            "http://[2606:4700::1111]/",
            "http://example.com/",
            "http://localhost.example.com/",
            "http://1.2.3.4.5/",
            "mailto:a@127.0.0.1",
        ] {
            assert!(!refused(&none, uri), "{uri} is not refused at creation");
        }
    }

    #[test]
    fn the_allow_list_opens_networks_and_names() {
        let policy = AddressPolicy::new(&[
            "127.0.0.1/32".into(),
            "fd00::/8".into(),
            "hooks.internal".into(),
            "localhost".into(),
        ])
        .unwrap();
        assert!(!refused(&policy, "http://127.0.0.1:8080/x"));
        assert!(refused(&policy, "http://127.0.0.2/x"));
        assert!(!refused(&policy, "http://[fd00::1]/"));
        let private = "10.0.0.7".parse().unwrap();
        assert!(policy.refuses("hooks.internal", private).is_none());
        assert!(policy.refuses("other.internal", private).is_some());
        assert!(AddressPolicy::new(&["not a host!".into()]).is_err());
    }
}
