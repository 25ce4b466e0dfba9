//! Decisions: the decisions standing, with what their plans did.

use super::*;

pub struct Decisions;

impl View for Decisions {
    fn id(&self) -> ViewId {
        ViewId::Decisions
    }
    fn name(&self) -> &'static str {
        "decisions"
    }
    fn title(&self) -> &'static str {
        "Decisions"
    }
    fn decidable(&self) -> bool {
        false
    }
    fn shows_decisions(&self) -> bool {
        false
    }
    fn empty(&self) -> &'static str {
        "No decisions yet: mark rows in Gaps or Keys and press c, r, o or d."
    }
    fn detail<'a>(&self, s: &State, t: &Theme, item: u32) -> Vec<Line<'a>> {
        let d = &*s.data;
        let i = item as usize;
        let mut out = Vec::new();
        let Some(x) = s.review.decisions.get(i) else {
            return out;
        };
        out.push(Line::from(vec![
            Span::styled(label("decision"), t.muted),
            Span::styled(
                format!("{} {}", x.d.verdict.as_str(), sanitize(&x.d.label)),
                if x.d.verdict.destructive() {
                    t.danger
                } else {
                    t.ok
                },
            ),
        ]));
        out.push(field(
            t,
            "target",
            format!(
                "{} {} on {}",
                x.d.target.kind.replace('_', " "),
                x.d.target.id,
                x.d.target.source
            ),
        ));
        out.push(field(
            t,
            "by",
            format!("{} · batch {}", x.reviewer, x.batch),
        ));
        out.push(field(t, "why", x.d.justification.as_deref().unwrap_or("-")));
        // Once a plan carries it out, what that plan did, from its journal: not a plan
        // made again against a snapshot that may no longer have the target.
        let applied: Vec<&crate::remediate::JournalRow> = s
            .review
            .journal
            .iter()
            .filter(|r| r.decisions.contains(&x.id))
            .collect();
        if !applied.is_empty() {
            out.push(field(t, "outcome", s.review.remediation_of(x)));
            for r in applied {
                out.push(Line::from(Span::styled(
                    format!(
                        "  plan #{} step {} {}: {}",
                        r.plan,
                        r.seq,
                        r.state.as_str(),
                        sanitize(&r.line())
                    ),
                    t.text,
                )));
            }
            return out;
        }
        out.push(Line::from(Span::styled(label("plan"), t.muted)));
        for step in crate::remediate::steps(
            x.d.verdict,
            x.d.owner.as_deref(),
            &x.d.target,
            &d.snapshot.data,
        ) {
            out.push(Line::from(Span::styled(
                format!("  {}", sanitize(&step.line())),
                if x.d.verdict.destructive() {
                    t.warn
                } else {
                    t.text
                },
            )));
        }
        out
    }
}

impl Review {
    pub(crate) fn decisions_table(&self) -> Table {
        let rows = self
            .pending
            .iter()
            .map(|&i| {
                let x = &self.decisions[i as usize];
                let when = chrono::DateTime::from_timestamp(x.made_at, 0)
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                // The reason, as the detail's `why`; a new owner or a date goes before it.
                let reason = x.d.justification.as_deref().unwrap_or_default();
                let change = match (&x.d.owner, &x.d.until) {
                    (Some(o), _) => Some(format!("→ {o}")),
                    (_, Some(u)) => Some(format!("until {u}")),
                    _ => None,
                };
                let what = match change {
                    Some(c) if reason.is_empty() => c,
                    Some(c) => format!("{c}: {reason}"),
                    None => reason.to_string(),
                };
                Row::new(
                    vec![
                        x.d.verdict.as_str().into(),
                        clean(&x.d.label),
                        self.remediation_of(x),
                        x.d.target.kind.replace('_', " "),
                        x.d.target.provider.clone(),
                        clean(&x.reviewer),
                        when,
                        clean(&what),
                    ],
                    vec![NONE; 8],
                    match x.d.verdict {
                        Verdict::Revoke => Tone::Danger,
                        Verdict::Certify => Tone::Normal,
                        _ => Tone::Accent,
                    },
                    i,
                )
            })
            .collect();
        Table {
            columns: vec![
                Column::text("verdict", 8),
                Column::text("subject", 26),
                Column::text("remediation", 12),
                Column::text("kind", 12),
                Column::text("provider", 9),
                Column::text("reviewer", 18),
                Column::text("when", 16),
                Column::grow("why", 10),
            ],
            rows,
        }
    }
}
