//! The SSRF guard at delivery time: a DNS resolver for the webhook client that hands the
//! connector only the addresses [`AddressPolicy`] allows. The connection goes to exactly the
//! addresses checked here (resolution is pinned for the request), so a name cannot pass
//! the check and then connect elsewhere. Addresses written into a URL never reach a
//! resolver; [`check_literal`] covers them.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::model::AddressPolicy;

/// Resolves with the system resolver, keeping only allowed addresses.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub policy: Arc<AddressPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.refuses(&host, a.ip()) {
                    None => true,
                    Some(why) => {
                        refusal.get_or_insert(why);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let why = refusal.unwrap_or_else(|| format!("{host} has no address"));
                return Err(format!("forbidden address: {host} resolves to {why}").into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// Why a URL whose host is an address literal may not be called, if it may not.
pub fn check_literal(policy: &AddressPolicy, url: &url::Url) -> Option<String> {
    let ip = match url.host()? {
        url::Host::Ipv4(v4) => IpAddr::V4(v4),
        url::Host::Ipv6(v6) => IpAddr::V6(v6),
        url::Host::Domain(_) => return None,
    };
    policy
        .refuses(url.host_str().unwrap_or_default(), ip)
        .map(|why| format!("forbidden address: {why}"))
}
