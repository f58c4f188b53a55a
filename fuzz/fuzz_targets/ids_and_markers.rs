//! The small strings a client names things with: message, claim and subscription ids,
//! project, queue, pool and client names, the event feed's marker, instants (`since`,
//! signed URLs' `expires`) and subscriber URLs (with the address guard's verdict).
//!
//! What must hold: an accepted id is canonical (it parses back to itself); an accepted
//! queue name is well formed; the feed marker reads back from its own rendering; an instant
//! reads back from its own rendering (to the millisecond).
#![no_main]

use cairn::actions::FeedMarker;
use cairn::auth::signed_url::parse_expires;
use cairn::model::catalogue::name;
use cairn::model::{
    AddressPolicy, ClaimId, ClientId, ClientIdPolicy, MessageId, ProjectId, QueueName,
    SubscriptionId, Target, Timestamp,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(id) = MessageId::parse(text) {
        assert_eq!(MessageId::parse(id.as_str()), Some(id));
    }
    if let Some(id) = ClaimId::parse(text) {
        assert_eq!(ClaimId::parse(id.as_str()), Some(id));
    }
    if let Some(id) = SubscriptionId::parse(text) {
        assert_eq!(SubscriptionId::parse(id.as_str()), Some(id));
    }
    let _ = ClientId::new(Some(text), ClientIdPolicy::Strict, 20, 36);
    let _ = ClientId::new(Some(text), ClientIdPolicy::Off, 20, 36);
    if let Ok(project) = ProjectId::new(Some(text)) {
        let _ = project.topics();
        if let Ok(queue) = QueueName::new(text, &project) {
            assert!(QueueName::well_formed(queue.as_str()));
        }
    }
    let _ = name(text, "Pool");
    if let Ok(marker) = FeedMarker::parse(text) {
        let rendered = marker.render();
        assert_eq!(
            FeedMarker::parse(&rendered).ok(),
            Some(marker),
            "{rendered:?}"
        );
    }
    if let Some(at) = Timestamp::parse_rfc3339(text) {
        let rendered = at.to_rfc3339_millis();
        if chrono_range(at) {
            assert_eq!(
                Timestamp::parse_rfc3339(&rendered),
                Some(at),
                "{rendered:?}"
            );
        }
        let _ = at.to_rfc3339_secs();
    }
    let _ = parse_expires(text);
    let _ = Target::parse(text);
    let _ = AddressPolicy::default().refuses_subscriber(text);
});

/// Instants between the years 0 and 9999, which RFC 3339 can write.
fn chrono_range(at: Timestamp) -> bool {
    (-62_167_219_200_000..=253_402_300_799_999).contains(&at.0)
}
