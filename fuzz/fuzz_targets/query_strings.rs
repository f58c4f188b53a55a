//! Query strings as the REST transport reads them (falcon's rules: blank values are absent,
//! booleans in their several spellings, comma-separated and repeated lists), and the limits
//! every paging and waiting parameter is checked against.
//!
//! What must hold: a list's items are never empty and hold no comma; a number the decoder
//! accepts is the value's own; a page size accepted is within its bounds.
#![no_main]

use cairn::model::Limits;
use cairn::transports::http::query::Query;
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 12] = [
    "limit",
    "marker",
    "echo",
    "include_claimed",
    "include_delayed",
    "detailed",
    "with_count",
    "ids",
    "claim_ids",
    "pop",
    "wait",
    "grace",
];

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let query = Query::parse(Some(raw));
    for name in NAMES {
        if let Some(items) = query.list(name) {
            assert!(items.iter().all(|i| !i.is_empty() && !i.contains(',')));
            let _ = limits.id_count(items.len());
        }
        let _ = query.bool(name);
        if let Ok(Some(n)) = query.int(name) {
            let text = query.get(name).expect("a number has its text");
            assert_eq!(text.trim().parse::<i64>().ok(), Some(n));
            for (accepted, max) in [
                (limits.queue_page(Some(n)), limits.max_queues_per_page),
                (limits.message_page(Some(n)), limits.max_messages_per_page),
                (
                    limits.claim_limit(Some(n)),
                    limits.max_messages_per_claim_or_pop,
                ),
                (limits.catalogue_page(Some(n)), 20),
            ] {
                if let Ok(size) = accepted {
                    assert!((1..=max).contains(&size), "page {size} past 1..={max}");
                }
            }
            let _ = limits.subscription_page(Some(n));
            let _ = limits.event_page(Some(n));
            let _ = limits.pop_count(n);
            let _ = limits.claim_ttl(n);
            let _ = limits.claim_grace(n);
            if let Ok(Some(wait)) = limits.long_poll(Some(n)) {
                assert!(wait.as_secs() <= 20);
            }
        }
    }
    let _ = query.others(&NAMES).count();
});
