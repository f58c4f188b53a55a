//! The self-check of a run. Every body carries `{"run": <uuid>, "n": <seq>}`, and producers
//! record the id the server gave each `n`. Claims last longer than the run (`ttl` =
//! duration + 60 s), so every claim stays live until the end: a message received twice by
//! consumers was handed out under two live claims, a violation. A received (or listed)
//! message must be one a producer of this run posted, with the id the server returned.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

/// A message as a consumer or observer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Received {
    pub id: String,
    /// The body's `n` when its `run` is this run's; `None` for anything else.
    pub n: Option<u64>,
}

impl Received {
    /// Reads `{"id", "body": {"run", "n"}}` of a listed or claimed message.
    pub fn from_message(message: &Value, run: &str) -> Received {
        let body = &message["body"];
        let ours = body["run"].as_str() == Some(run);
        Received {
            id: message["id"].as_str().unwrap_or_default().to_owned(),
            n: body["n"].as_u64().filter(|_| ours),
        }
    }
}

/// What the workers of a run recorded for the check.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// `(id, n)` of every message a post acknowledged.
    pub produced: Vec<(String, u64)>,
    /// `n` of messages whose post got no answer (it may or may not have been committed).
    pub unacknowledged: Vec<u64>,
    /// Messages received by consumers (through claims), in any order.
    pub received: Vec<Received>,
    /// Messages listed by observers.
    pub observed: Vec<Received>,
}

impl Ledger {
    pub fn append(&mut self, other: Ledger) {
        self.produced.extend(other.produced);
        self.unacknowledged.extend(other.unacknowledged);
        self.received.extend(other.received);
        self.observed.extend(other.observed);
    }
}

/// The result of the self-check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// No duplicate, foreign or mismatched message.
    pub passed: bool,
    /// Messages whose post was acknowledged (prefill included).
    pub produced: u64,
    /// Messages received by consumers.
    pub received: u64,
    /// Messages listed by observers (the same message may be listed many times).
    pub observed: u64,
    /// Receipts of a message a consumer had already received (under a live claim).
    pub duplicates: u64,
    /// Received or listed messages that no producer of this run posted.
    pub foreign: u64,
    /// Messages whose id and body disagree with what the producer was told, and ids the
    /// server returned for two different posted messages.
    pub mismatched: u64,
    /// Received messages from posts whose answer was lost (timeout, dropped connection):
    /// they may have been committed, so they are not violations.
    pub unacknowledged: u64,
    /// The first few violations, in words.
    pub problems: Vec<String>,
}

const MAX_PROBLEMS: usize = 10;

impl Check {
    /// One line for people.
    pub fn summary(&self) -> String {
        let verdict = if self.passed { "passed" } else { "FAILED" };
        let mut line = format!(
            "self-check {verdict}: {} produced, {} received by consumers, {} listed by \
             observers; {} received twice, {} not posted by this run, {} mismatched",
            self.produced,
            self.received,
            self.observed,
            self.duplicates,
            self.foreign,
            self.mismatched
        );
        if self.unacknowledged > 0 {
            line.push_str(&format!(
                ", {} from unacknowledged posts",
                self.unacknowledged
            ));
        }
        line
    }
}

pub(crate) fn check(ledger: &Ledger) -> Check {
    let mut problems = Vec::new();
    let mut note = |text: String| {
        if problems.len() < MAX_PROBLEMS {
            problems.push(text);
        }
    };
    let mut mismatched = 0;
    let mut produced: HashMap<&str, u64> = HashMap::with_capacity(ledger.produced.len());
    for (id, n) in &ledger.produced {
        match produced.entry(id.as_str()) {
            Entry::Vacant(slot) => {
                slot.insert(*n);
            }
            Entry::Occupied(first) => {
                mismatched += 1;
                note(format!(
                    "id {id} was returned for messages {} and {n}",
                    first.get()
                ));
            }
        }
    }
    let unacknowledged: HashSet<u64> = ledger.unacknowledged.iter().copied().collect();
    let mut foreign = 0;
    let mut from_lost_posts = 0;
    let mut verify = |m: &Received, who: &str, note: &mut dyn FnMut(String)| match (
        m.n,
        produced.get(m.id.as_str()),
    ) {
        (Some(n), Some(&posted)) if n == posted => {}
        (Some(n), Some(&posted)) => {
            mismatched += 1;
            note(format!(
                "{who} got message {} with n={n}, but it was posted with n={posted}",
                m.id
            ));
        }
        (Some(n), None) if unacknowledged.contains(&n) => from_lost_posts += 1,
        _ => {
            foreign += 1;
            note(format!(
                "{who} got message {:?}, which no producer of this run posted",
                m.id
            ));
        }
    };
    let mut seen: HashSet<&str> = HashSet::with_capacity(ledger.received.len());
    let mut duplicates = 0;
    for m in &ledger.received {
        if !seen.insert(m.id.as_str()) {
            duplicates += 1;
            note(format!(
                "message {} was received twice while both claims were live",
                m.id
            ));
        }
        verify(m, "a consumer", &mut note);
    }
    for m in &ledger.observed {
        verify(m, "an observer", &mut note);
    }
    Check {
        passed: duplicates == 0 && foreign == 0 && mismatched == 0,
        produced: produced.len() as u64,
        received: ledger.received.len() as u64,
        observed: ledger.observed.len() as u64,
        duplicates,
        foreign,
        mismatched,
        unacknowledged: from_lost_posts,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn got(id: &str, n: Option<u64>) -> Received {
        Received { id: id.into(), n }
    }

    fn ledger() -> Ledger {
        Ledger {
            produced: vec![("a".into(), 0), ("b".into(), 1), ("c".into(), 2)],
            unacknowledged: vec![7],
            received: vec![got("a", Some(0)), got("c", Some(2))],
            observed: vec![got("b", Some(1)), got("b", Some(1))],
        }
    }

    #[test]
    fn a_clean_run_passes() {
        let c = check(&ledger());
        assert!(c.passed, "{c:?}");
        assert_eq!((c.produced, c.received, c.observed), (3, 2, 2));
    }

    #[test]
    fn a_message_received_twice_fails() {
        let mut l = ledger();
        l.received.push(got("a", Some(0)));
        let c = check(&l);
        assert!(!c.passed);
        assert_eq!(c.duplicates, 1);
        assert!(c.problems[0].contains("twice"));
    }

    #[test]
    fn foreign_and_mismatched_messages_fail() {
        let mut l = ledger();
        l.received.push(got("z", None));
        l.observed.push(got("y", Some(99)));
        l.received.push(got("b", Some(2)));
        let c = check(&l);
        assert!(!c.passed);
        assert_eq!((c.foreign, c.mismatched), (2, 1));
    }

    #[test]
    fn messages_of_lost_posts_are_not_violations() {
        let mut l = ledger();
        l.received.push(got("q", Some(7)));
        let c = check(&l);
        assert!(c.passed, "{c:?}");
        assert_eq!(c.unacknowledged, 1);
    }

    #[test]
    fn an_id_returned_twice_fails() {
        let mut l = ledger();
        l.produced.push(("a".into(), 5));
        assert_eq!(check(&l).mismatched, 1);
    }

    #[test]
    fn bodies_of_other_runs_are_not_ours() {
        let m = json!({"id": "x", "body": {"run": "other", "n": 3}});
        assert_eq!(Received::from_message(&m, "mine"), got("x", None));
        let m = json!({"id": "x", "body": {"run": "mine", "n": 3}});
        assert_eq!(Received::from_message(&m, "mine"), got("x", Some(3)));
        let m = json!({"id": "x", "body": "text"});
        assert_eq!(Received::from_message(&m, "mine"), got("x", None));
    }
}
