//! Queue: a campaign reviewer's items, staged and submitted.

use super::*;

pub struct QueueView;

impl View for QueueView {
    fn id(&self) -> ViewId {
        ViewId::Queue
    }
    fn name(&self) -> &'static str {
        "queue"
    }
    fn title(&self) -> &'static str {
        "Queue"
    }
    fn decidable(&self) -> bool {
        true
    }
    fn shows_decisions(&self) -> bool {
        false
    }
    fn empty(&self) -> &'static str {
        "Your queue in this campaign is empty."
    }
    fn detail<'a>(&self, s: &State, t: &Theme, item: u32) -> Vec<Line<'a>> {
        let i = item as usize;
        let mut out = Vec::new();
        let Some(ci) = s.review.queue.as_ref().and_then(|q| q.items.get(i)) else {
            return out;
        };
        let it = &ci.item;
        let (state, style) = match (&ci.outcome, &ci.staged) {
            (Some(o), _) => (
                format!(
                    "{o}, submitted by {}",
                    ci.outcome_by.as_deref().unwrap_or("?")
                ),
                if o == "revoke" { t.danger } else { t.ok },
            ),
            (None, Some(st)) => (
                format!(
                    "{} staged{} ({}); :submit records it",
                    st.verdict.as_str(),
                    if it.carried.is_some() {
                        ", carried from the earlier campaign"
                    } else {
                        ""
                    },
                    st.justification.as_deref().unwrap_or("no justification")
                ),
                if st.verdict.destructive() {
                    t.danger
                } else {
                    t.accent
                },
            ),
            _ => ("undecided".to_string(), t.muted),
        };
        out.push(Line::from(vec![
            Span::styled(label("state"), t.muted),
            Span::styled(sanitize(&state).to_string(), style),
        ]));
        out.push(field(t, "item", format!("#{} {}", it.seq, it.label)));
        out.push(field(
            t,
            "holder",
            it.person.as_deref().unwrap_or("(no directory email)"),
        ));
        if let Some(r) = &it.recommendation {
            out.push(Line::from(vec![
                Span::styled(label("suggest"), t.muted),
                Span::styled(
                    sanitize(&format!(
                        "{} ({}): {}",
                        r.verdict.as_str(),
                        r.rule,
                        r.evidence
                    ))
                    .to_string(),
                    if r.verdict.destructive() {
                        t.warn
                    } else {
                        t.ok
                    },
                ),
            ]));
        }
        out.push(field(
            t,
            "routed",
            format!("{} ({})", ci.assigned, it.routed_by),
        ));
        if let Some(c) = it.change {
            out.push(field(t, "change", c.as_str()));
        }
        if !it.rules.is_empty() {
            out.push(field(t, "gaps", it.rules.join(", ")));
        }
        out.push(field(
            t,
            "target",
            format!(
                "{} {} on {}",
                it.target.kind, it.target.id, it.target.source
            ),
        ));
        out
    }
}

/// A campaign reviewer's queue as the console shows it.
pub(crate) fn queue_table(q: &Queue) -> Table {
    let rows = q
        .items
        .iter()
        .enumerate()
        .map(|(i, ci)| {
            let it = &ci.item;
            let state = ci.state_label();
            let key = it.target.kind.ends_with("key");
            let what = match (&it.role, &it.resource) {
                // A key by its name: the finding's own words (`key 'ci' (sk-…) in Proj`).
                _ if key => it.label.clone(),
                (Some(r), Some(res)) => format!("{r} of {res}"),
                (None, Some(res)) => format!("{} in {res}", it.target.kind.replace('_', " ")),
                (r, None) => r
                    .clone()
                    .unwrap_or_else(|| it.target.kind.replace('_', " ")),
            };
            let rec = it
                .recommendation
                .as_ref()
                .map(|r| format!("{} ({})", r.verdict.as_str(), r.rule))
                .unwrap_or_default();
            let verdict = ci
                .outcome
                .as_deref()
                .or(ci.staged.as_ref().map(|s| s.verdict.as_str()));
            Row::new(
                vec![
                    it.seq.to_string(),
                    state,
                    clean(it.person.as_deref().unwrap_or("-")),
                    clean(&what),
                    it.target.provider.clone(),
                    clean(it.resource.as_deref().unwrap_or("")),
                    rec,
                    it.change
                        .map(|c| c.as_str().to_string())
                        .unwrap_or_default(),
                    clean(&it.label),
                ],
                vec![it.seq, NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE],
                match verdict {
                    Some("revoke") => Tone::Danger,
                    Some(_) => Tone::Muted,
                    None => Tone::Normal,
                },
                i as u32,
            )
        })
        .collect();
    Table {
        columns: vec![
            Column::num("item", 4, Unit::Count),
            Column::text("state", 16),
            Column::text("person", 20),
            Column::text("what", 22),
            Column::text("provider", 9),
            Column::text("resource", 12),
            Column::text("recommend", 22),
            Column::text("change", 8),
            Column::grow("detail", 10),
        ],
        rows,
    }
}
