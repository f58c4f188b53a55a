//! Opaque identifiers of messages and claims. Clients must not parse them; a string of the
//! wrong shape simply names nothing.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! opaque_id {
    ($name:ident, $what:literal) => {
        #[doc = concat!("The id of a ", $what, ": a UUID (time-ordered when generated here).")]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                $name(uuid::Uuid::now_v7().to_string())
            }

            /// Parses a client-supplied id; `None` when it cannot name anything we issued.
            pub fn parse(raw: &str) -> Option<Self> {
                uuid::Uuid::try_parse(raw)
                    .ok()
                    .map(|u| $name(u.hyphenated().to_string()))
            }

            /// An id read back from storage.
            pub fn from_stored(raw: String) -> Self {
                $name(raw)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

opaque_id!(MessageId, "message");
opaque_id!(ClaimId, "claim");
opaque_id!(SubscriptionId, "subscription");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id = MessageId::generate();
        assert_eq!(MessageId::parse(id.as_str()), Some(id));
        assert_eq!(ClaimId::parse("not-a-claim"), None);
    }
}
