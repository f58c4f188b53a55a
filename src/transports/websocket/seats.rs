//! How many WebSocket connections each project holds. A connection takes a seat in a
//! project the first time one of its frames acts in that project, and gives it back when it
//! closes; a project whose seats are all taken is refused with 429 on the frame, and the
//! connection stays open for other projects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::model::ProjectId;

/// The seats taken, by project, shared by every listener of a node.
#[derive(Debug, Default)]
pub struct SeatBook {
    taken: Mutex<HashMap<ProjectId, usize>>,
}

/// One connection's seat in one project, given back when dropped.
#[derive(Debug)]
pub struct Seat {
    book: Arc<SeatBook>,
    project: ProjectId,
}

impl SeatBook {
    /// A seat in `project`, unless `max` are taken.
    pub fn take(book: &Arc<SeatBook>, project: &ProjectId, max: usize) -> Option<Seat> {
        let mut taken = book.taken.lock().unwrap_or_else(|e| e.into_inner());
        let count = taken.entry(project.clone()).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Seat {
            book: book.clone(),
            project: project.clone(),
        })
    }
}

impl Seat {
    /// The project this seat is in.
    pub fn project(&self) -> &ProjectId {
        &self.project
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut taken = self.book.taken.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = taken.get_mut(&self.project) {
            *count -= 1;
            if *count == 0 {
                taken.remove(&self.project);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_are_bounded_per_project_and_given_back() {
        let book = Arc::new(SeatBook::default());
        let alpha = ProjectId::new(Some("alpha")).unwrap();
        let beta = ProjectId::new(Some("beta")).unwrap();
        let first = SeatBook::take(&book, &alpha, 2).expect("a first seat");
        let _second = SeatBook::take(&book, &alpha, 2).expect("a second seat");
        assert!(SeatBook::take(&book, &alpha, 2).is_none(), "no third");
        assert!(
            SeatBook::take(&book, &beta, 2).is_some(),
            "another project has its own"
        );
        drop(first);
        assert!(book.taken.lock().unwrap().get(&alpha) == Some(&1));
        assert!(
            SeatBook::take(&book, &alpha, 2).is_some(),
            "a seat given back is taken again"
        );
    }
}
