//! The egress audit: one line per refused request, within a cap.

use std::sync::Mutex;

use crate::limits::MAX_AUDIT_LINES;

/// Refused requests of one run, as audit lines: the first [`MAX_AUDIT_LINES`] kept, the rest
/// counted, so a guest that asks for what it is refused in a loop cannot flood the host's log.
#[derive(Debug, Default)]
pub struct Audit {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    lines: Vec<String>,
    dropped: u64,
}

impl Audit {
    /// Records one audit line (never holding a query, header or body).
    pub fn record(&self, line: String) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.lines.len() < MAX_AUDIT_LINES {
            state.lines.push(line);
        } else {
            state.dropped = state.dropped.saturating_add(1);
        }
    }

    /// The lines recorded, then one line counting those beyond the cap, if any.
    pub fn take(&self) -> Vec<String> {
        let Ok(mut state) = self.state.lock() else {
            return Vec::new();
        };
        let mut lines = std::mem::take(&mut state.lines);
        if state.dropped > 0 {
            lines.push(format!(
                "egress denied: {} more requests not shown (the first {MAX_AUDIT_LINES} are)",
                state.dropped
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_beyond_the_cap_are_counted_in_one_summary() {
        let audit = Audit::default();
        for i in 0..MAX_AUDIT_LINES + 5 {
            audit.record(format!("line {i}"));
        }
        let lines = audit.take();
        assert_eq!(lines.len(), MAX_AUDIT_LINES + 1);
        assert_eq!(lines[0], "line 0");
        assert_eq!(
            lines[MAX_AUDIT_LINES],
            format!("egress denied: 5 more requests not shown (the first {MAX_AUDIT_LINES} are)")
        );
    }
}
