//! Gaps: every finding, one row per finding, decided on by its subject.

use super::*;

pub struct Gaps;

impl View for Gaps {
    fn id(&self) -> ViewId {
        ViewId::Gaps
    }
    fn name(&self) -> &'static str {
        "gaps"
    }
    fn title(&self) -> &'static str {
        "Gaps"
    }
    fn decidable(&self) -> bool {
        true
    }
    fn shows_decisions(&self) -> bool {
        true
    }
    fn empty(&self) -> &'static str {
        "No gaps in this snapshot."
    }
    fn detail<'a>(&self, s: &State, t: &Theme, item: u32) -> Vec<Line<'a>> {
        let d = &*s.data;
        let i = item as usize;
        let mut out = Vec::new();
        let Some(x) = d.findings.get(i) else {
            return out;
        };
        out.push(Line::from(vec![
            Span::styled(label("severity"), t.muted),
            Span::styled(x.severity.as_str(), tone(t, severity_tone(x.severity))),
            Span::styled(format!("  {}", x.rule), t.text),
        ]));
        out.extend(decision_line(s, t, d, s.view, item));
        out.push(field(
            t,
            "subject",
            format!("{} {}", x.subject_kind.replace('_', " "), x.subject_id),
        ));
        // A person's account, membership or invite has an address, known or not; a key, a
        // service account or a project has none of its own (its owner is another line).
        match x.subject_email.as_deref() {
            Some(e) => out.push(field(t, "email", e)),
            None if matches!(x.subject_kind.as_str(), "account" | "grant" | "invite") => {
                out.push(field(t, "email", "(unknown)"))
            }
            None => {}
        }
        out.push(field(t, "source", format!("{} ({})", x.source, x.provider)));
        out.push(field(t, "why", &x.detail));
        for line in d.provenance(&x.source, &x.subject_kind, &x.subject_id) {
            out.push(field(t, "audit", line));
        }
        out.push(Line::from(Span::styled(rule_explanation(&x.rule), t.muted)));
        out
    }
    fn target(&self, d: &Data, item: u32) -> Option<(Target, String, Option<String>)> {
        let f = d.findings.get(item as usize)?;
        // A key or service account by its name (not its owner's email, which a reassign
        // changes); a person's account or membership by their email.
        let label = d
            .labels
            .get(&label_key(&f.source, &f.subject_id))
            .cloned()
            .unwrap_or_else(|| {
                f.subject_email
                    .as_deref()
                    .unwrap_or(&f.subject_id)
                    .to_string()
            });
        Some((finding_target(f), label, Some(f.rule.to_string())))
    }
    fn target_id<'d>(&self, d: &'d Data, item: u32) -> Option<&'d str> {
        d.findings.get(item as usize).map(|f| f.subject_id.as_str())
    }
    /// A finding to its subject: a key to the Keys view, a service account or resource to its
    /// project, an account or membership to its person.
    fn drill(&self, d: &Data, item: u32) -> Option<Drill> {
        let f = d.findings.get(item as usize)?;
        match f.subject_kind.as_str() {
            "api_key" | "admin_key" | "project_key" => d
                .key_row(&f.source, &f.subject_id)
                .map(|i| Drill::row(ViewId::Keys, i, &f.subject_id)),
            "service_account" => {
                let sa = d
                    .snapshot
                    .data
                    .service_accounts
                    .iter()
                    .find(|s| s.source == f.source && s.id == f.subject_id)?;
                let r = d.resource_row(&sa.source, sa.resource_id.as_deref()?)?;
                Some(Drill::row(ViewId::Resources, r, &f.subject_id))
            }
            "resource" => d
                .resource_row(&f.source, &f.subject_id)
                .map(|i| Drill::row(ViewId::Resources, i, &f.subject_id)),
            _ => {
                let email = f.subject_email.as_deref()?;
                d.person_row(email)
                    .map(|i| Drill::row(ViewId::People, i, email))
            }
        }
    }
}

impl Data {
    pub(crate) fn gaps_table(&self) -> Table {
        use rayon::prelude::*;
        // A million findings: both cores build rows.
        let rows = self
            .findings
            .par_iter()
            .enumerate()
            .map(|(i, f)| {
                Row::new(
                    vec![
                        severity_label(f.severity).into(),
                        f.rule.to_string(),
                        // A key or service account by its name first (five keys of one
                        // holder read alike by their email), then whose it is.
                        {
                            let named = matches!(
                                f.subject_kind.as_str(),
                                "api_key" | "admin_key" | "project_key" | "service_account"
                            );
                            let label = named
                                .then(|| self.labels.get(&label_key(&f.source, &f.subject_id)))
                                .flatten();
                            match (label, &f.subject_email) {
                                (Some(l), Some(e)) => format!("{l} · {}", clean(e)),
                                (Some(l), None) => l.clone(),
                                (None, Some(e)) => clean(e),
                                (None, None) => clean(&f.subject_id),
                            }
                        },
                        f.provider.to_string(),
                        clean(&f.detail),
                    ],
                    vec![NONE; 5],
                    severity_tone(f.severity),
                    i as u32,
                )
            })
            .collect();
        Table {
            columns: vec![
                Column::text("sev", 4),
                Column::text("rule", 18),
                Column::text("subject", 24),
                Column::text("provider", 9),
                Column::grow("detail", 10),
            ],
            rows,
        }
    }
}
