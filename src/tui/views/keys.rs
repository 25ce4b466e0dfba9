//! Keys: every API key, its accountable owner and how the owner is known.

use super::*;
use crate::tui::data::KeyOwner;
use std::collections::HashMap;

pub struct Keys;

impl View for Keys {
    fn id(&self) -> ViewId {
        ViewId::Keys
    }
    fn name(&self) -> &'static str {
        "keys"
    }
    fn title(&self) -> &'static str {
        "Keys"
    }
    fn decidable(&self) -> bool {
        true
    }
    fn shows_decisions(&self) -> bool {
        true
    }
    fn empty(&self) -> &'static str {
        "Nothing here in this snapshot."
    }
    fn detail<'a>(&self, s: &State, t: &Theme, item: u32) -> Vec<Line<'a>> {
        let d = &*s.data;
        let i = item as usize;
        let mut out = Vec::new();
        let Some(c) = d.snapshot.data.credentials.get(i) else {
            return out;
        };
        out.push(field(
            t,
            "key",
            format!(
                "{} {}",
                c.name.as_deref().unwrap_or("(unnamed)"),
                c.redacted.as_deref().unwrap_or("")
            ),
        ));
        out.extend(decision_line(s, t, d, s.view, item));
        out.push(field(
            t,
            "id",
            format!(
                "{} ({}, {} on {})",
                c.id,
                c.kind.replace('_', " "),
                c.provider,
                c.source
            ),
        ));
        let KeyOwner {
            who: owner, via, ..
        } = d.key_owner(c);
        let via = match via {
            "record" => "from recert's ownership record",
            "provider" => "from the provider",
            "inferred" => "from its service account's recorded owner",
            _ => "nobody answers for it: o reassigns",
        };
        out.push(field(t, "owner", format!("{owner} ({via})")));
        if let Some(o) = &c.owner {
            // Who the key acts as: by the name the key's record gives, else the one the
            // snapshot lists for that service account or user (Anthropic's key names only
            // the id), then the id.
            let name = o
                .email
                .as_deref()
                .or(o.name.as_deref())
                .map(str::to_string)
                .or_else(|| d.labels.get(&label_key(&c.source, &o.id)).cloned())
                .or_else(|| d.account(&c.source, &o.id).and_then(|a| a.email.clone()));
            let kind = o.kind.replace('_', " ");
            out.push(field(
                t,
                "runs as",
                match name {
                    Some(n) => format!("{kind} {n} ({})", o.id),
                    // Anthropic's Admin API does not list service accounts (OAuth apps only):
                    // the id is all a key says, and the pane says why.
                    None if c.provider == "anthropic" && o.kind == "service_account" => format!(
                        "{kind} {} (unnamed: Anthropic lists service accounts to OAuth apps only)",
                        o.id
                    ),
                    None => format!("{kind} {}", o.id),
                },
            ));
        }
        out.push(field(
            t,
            c.container_word(),
            c.place(|p| d.resource_name(&c.source, p)),
        ));
        out.push(field(t, "created", date(c.created_at)));
        out.push(field(t, "last used", date(c.last_used_at)));
        out.push(field(
            t,
            "spend",
            c.spend_cents
                .map(|x| format!("${}.{:02} in 30 days", x / 100, x % 100))
                .unwrap_or_else(|| "-".into()),
        ));
        out.push(field(t, "expires", date(c.expires_at)));
        let status = c.status.as_deref().unwrap_or("active");
        out.push(field(t, "status", revoked_since(s, d, item, status)));
        for line in d.key_findings(item) {
            out.push(field(t, "finding", line));
        }
        for line in d.provenance(&c.source, "api_key", &c.id) {
            out.push(field(t, "audit", line));
        }
        out
    }
    fn target(&self, d: &Data, item: u32) -> Option<(Target, String, Option<String>)> {
        let c = d.snapshot.data.credentials.get(item as usize)?;
        Some((
            Target::new(&c.provider, &c.source, &c.kind, &c.id),
            c.label(),
            None,
        ))
    }
    fn target_id<'d>(&self, d: &'d Data, item: u32) -> Option<&'d str> {
        d.snapshot
            .data
            .credentials
            .get(item as usize)
            .map(|c| c.id.as_str())
    }
    /// A key to the person who answers for it, else its project.
    fn drill(&self, d: &Data, item: u32) -> Option<Drill> {
        let c = d.snapshot.data.credentials.get(item as usize)?;
        let KeyOwner {
            who: owner, via, ..
        } = d.key_owner(c);
        if via != "-"
            && let Some(i) = d.person_row(&owner)
        {
            return Some(Drill::row(ViewId::People, i, &owner));
        }
        let r = d.resource_row(&c.source, c.resource_id.as_deref()?)?;
        Some(Drill::row(
            ViewId::Resources,
            r,
            c.name.as_deref().unwrap_or(&c.id),
        ))
    }
}

/// What a finding about a key is about: the key itself, or the service account it runs as
/// (nobody answers for the account, so nobody answers for its keys). One answer for a row's
/// colour and the findings its detail lists.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum KeySubject<'a> {
    Key(&'a str, &'a str),
    ServiceAccount(&'a str, &'a str),
}

impl<'a> KeySubject<'a> {
    pub(crate) fn of_finding(f: &'a crate::model::Finding) -> Option<KeySubject<'a>> {
        match f.subject_kind.as_str() {
            "api_key" | "admin_key" => Some(KeySubject::Key(&f.source, &f.subject_id)),
            "service_account" => Some(KeySubject::ServiceAccount(&f.source, &f.subject_id)),
            _ => None,
        }
    }

    /// The key, then its service account if it runs as one.
    pub(crate) fn of_key(c: &'a crate::model::Credential) -> [Option<KeySubject<'a>>; 2] {
        let account = c
            .owner
            .as_ref()
            .filter(|o| o.kind == "service_account")
            .map(|o| KeySubject::ServiceAccount(&c.source, &o.id));
        [Some(KeySubject::Key(&c.source, &c.id)), account]
    }
}

/// A key's status, and when a plan revoked it after the snapshot was taken (the snapshot still
/// lists it usable), that the snapshot is older than the revoke.
fn revoked_since(s: &State, d: &Data, item: u32, status: &str) -> String {
    let landed = d
        .target(ViewId::Keys, item)
        .and_then(|(tg, _, _)| s.review.decided.get(&tg).copied())
        .filter(|(v, _)| *v == Verdict::Revoke)
        .and_then(|(_, id)| s.review.landed(d, ViewId::Keys, item, id));
    let usable = d
        .snapshot
        .data
        .credentials
        .get(item as usize)
        .is_some_and(|c| c.usable());
    if landed == Some(true) && usable {
        format!(
            "{status} in snapshot #{}, taken before the revoke: :sync to see it gone",
            d.snapshot.id
        )
    } else {
        status.to_string()
    }
}

impl Data {
    pub(crate) fn keys_table(&self) -> Table {
        let d = &self.snapshot.data;
        // The worst finding about each key or service account: a key's row's colour is the
        // worst of its own and its service account's, as in Gaps (the rules judge; the table
        // has no thresholds of its own).
        let mut worst: HashMap<KeySubject, crate::model::Severity> = HashMap::new();
        for f in &self.findings {
            if let Some(at) = KeySubject::of_finding(f) {
                let w = worst.entry(at).or_insert(f.severity);
                *w = (*w).min(f.severity);
            }
        }
        let emails: HashMap<(&str, &str), Option<&str>> = d
            .accounts
            .iter()
            .map(|a| ((a.source.as_str(), a.id.as_str()), a.email.as_deref()))
            .collect();
        let names: HashMap<(&str, &str), &str> = d
            .resources
            .iter()
            .filter_map(|r| {
                r.name
                    .as_deref()
                    .map(|n| ((r.source.as_str(), r.id.as_str()), n))
            })
            .collect();
        let rows = d
            .credentials
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let age = days(self.now, c.created_at);
                // Never used: unused since it was made.
                let (unused, at_least) = c.unused_days(self.now).unwrap_or((NONE, false));
                let KeyOwner { who: owner, via } =
                    self.key_owner_in(c, |s, id| emails.get(&(s, id)).copied());
                let status = c.status.clone().unwrap_or_else(|| "active".into());
                let tone = if !c.usable() {
                    Tone::Muted
                } else {
                    // Low and info leave it plain: muted is a key no longer usable.
                    let w = KeySubject::of_key(c)
                        .into_iter()
                        .flatten()
                        .filter_map(|at| worst.get(&at))
                        .min();
                    match w {
                        Some(s) if *s <= crate::model::Severity::Medium => severity_tone(*s),
                        _ => Tone::Normal,
                    }
                };
                let label = c
                    .name
                    .as_deref()
                    .or(c.redacted.as_deref())
                    .unwrap_or(c.id.as_str());
                let resource =
                    c.place(|r| clean(names.get(&(c.source.as_str(), r)).copied().unwrap_or(r)));
                Row::new(
                    vec![
                        clean(label),
                        owner,
                        via.into(),
                        c.provider.clone(),
                        if at_least {
                            format!(">{unused}d")
                        } else {
                            show_days(unused)
                        },
                        show_days(age),
                        show_cents(c.spend_cents),
                        status,
                        c.kind.replace("_key", ""),
                        // The redacted hint: a responder holding one filters for it (OpenAI
                        // names most keys "Secret Key").
                        clean(c.redacted.as_deref().unwrap_or("-")),
                        resource,
                    ],
                    vec![
                        NONE,
                        NONE,
                        NONE,
                        NONE,
                        unused,
                        age,
                        c.spend_cents.unwrap_or(NONE),
                        NONE,
                        NONE,
                        NONE,
                        NONE,
                    ],
                    tone,
                    i as u32,
                )
            })
            .collect();
        Table {
            columns: vec![
                Column::text("key", 18),
                Column::text("owner", 22),
                Column::text("via", 8),
                Column::text("provider", 9),
                Column::num("unused", 6, Unit::Days),
                Column::num("age", 5, Unit::Days),
                Column::num("spend", 9, Unit::Cents),
                Column::text("status", 8),
                Column::text("kind", 7),
                Column::text("hint", 12),
                Column::grow("resource", 10),
            ],
            rows,
        }
    }
}
