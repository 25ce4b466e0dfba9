//! Audit: the hash-chained log, newest first; `R` reverses a call where the provider allows.

use super::*;

pub struct Audit;

impl View for Audit {
    fn id(&self) -> ViewId {
        ViewId::Audit
    }
    fn name(&self) -> &'static str {
        "audit"
    }
    fn title(&self) -> &'static str {
        "Audit"
    }
    fn decidable(&self) -> bool {
        false
    }
    fn shows_decisions(&self) -> bool {
        false
    }
    fn empty(&self) -> &'static str {
        "The audit log is empty."
    }
    fn detail<'a>(&self, s: &State, t: &Theme, item: u32) -> Vec<Line<'a>> {
        let i = item as usize;
        let mut out = Vec::new();
        let Some(e) = s.review.audit.get(i) else {
            return out;
        };
        out.push(field(
            t,
            "entry",
            format!("#{} {} by {}", e.seq, e.event, e.actor),
        ));
        out.push(field(t, "detail", &e.detail));
        out.push(field(t, "hash", &e.hash));
        out.push(field(t, "prev", &e.prev));
        out
    }
}

impl Review {
    pub(crate) fn audit_table(&self) -> Table {
        let rows = self
            .audit
            .iter()
            .enumerate()
            .rev()
            .map(|(i, e)| {
                let when = chrono::DateTime::from_timestamp(e.at, 0)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default();
                Row::new(
                    vec![
                        e.seq.to_string(),
                        when,
                        clean(&e.actor),
                        e.event.clone(),
                        clean(&e.detail),
                    ],
                    vec![e.seq, NONE, NONE, NONE, NONE],
                    Tone::Normal,
                    i as u32,
                )
            })
            .collect();
        Table {
            columns: vec![
                Column::num("seq", 5, Unit::Count),
                Column::text("when", 19),
                Column::text("actor", 20),
                Column::text("event", 6),
                Column::grow("detail", 10),
            ],
            rows,
        }
    }
}
