//! People: every directory entry with what they hold across providers.

use super::*;

pub struct People;

/// How many of a person's held items the detail lists by name (the pane shows the first
/// few; `z` scrolls through them all, up to this).
const HELD_SHOWN: usize = 500;

impl View for People {
    fn id(&self) -> ViewId {
        ViewId::People
    }
    fn name(&self) -> &'static str {
        "people"
    }
    fn title(&self) -> &'static str {
        "People"
    }
    fn decidable(&self) -> bool {
        false
    }
    fn shows_decisions(&self) -> bool {
        false
    }
    fn empty(&self) -> &'static str {
        "Nothing here in this snapshot."
    }
    fn detail<'a>(&self, s: &State, t: &Theme, item: u32) -> Vec<Line<'a>> {
        let d = &*s.data;
        let i = item as usize;
        let mut out = Vec::new();
        let Some(p) = d.snapshot.data.people.get(i) else {
            return out;
        };
        out.push(field(
            t,
            "person",
            format!(
                "{} ({})",
                p.emails.join(", "),
                p.display_name.as_deref().unwrap_or("-")
            ),
        ));
        // Every directory that lists this person, and what each says: who says they are
        // here first, then what they hold, then the rest of what each directory says.
        let facts: Vec<Vec<(&str, String)>> = d
            .said(item)
            .iter()
            .map(|said| said.facts(d.snapshot.taken_at))
            .collect();
        for f in &facts {
            out.extend(f.iter().take(1).map(|(l, x)| field(t, l, x)));
        }
        let holds = d.sweep(item);
        match &holds {
            Ok(h) if h.is_empty() => out.push(field(t, "holds", "nothing on any provider")),
            Ok(h) => out.push(field(t, "holds", holds_line(s, item, h))),
            Err(why) => out.push(field(t, "holds", why)),
        }
        for f in &facts {
            out.extend(f.iter().skip(1).map(|(l, x)| field(t, l, x)));
        }
        // What they hold, under a label of its own (not as if it went on the line above it).
        let held = holds.as_deref().unwrap_or_default();
        for (k, d) in held.iter().take(HELD_SHOWN).enumerate() {
            out.push(field(t, if k == 0 { "items" } else { "" }, &d.label));
        }
        if held.len() > HELD_SHOWN {
            out.push(field(
                t,
                "",
                format!("and {} more", held.len() - HELD_SHOWN),
            ));
        }
        out
    }
    /// A person to every finding about them.
    fn drill(&self, d: &Data, item: u32) -> Option<Drill> {
        let email = d.snapshot.data.people.get(item as usize)?.emails.first()?;
        // A filter term is one word: an email with a space cannot be one.
        (!email.contains(char::is_whitespace)).then(|| Drill::Filter {
            view: ViewId::Gaps,
            filter: format!("subject:{}", clean(email)),
            what: clean(email),
        })
    }
}

impl Data {
    pub(crate) fn people_table(&self, dir: &crate::reconcile::Directory) -> Table {
        use rayon::prelude::*;
        let holdings = self.holdings(dir);
        let rows = self
            .people
            .par_iter()
            .map(|&i| {
                let p = &self.snapshot.data.people[i as usize];
                let mut h = (0i64, Vec::new(), 0i64, 0i64);
                for e in &p.emails {
                    if let Some(x) = holdings.get(&dir.canonical(e)) {
                        h.0 += x.0;
                        for prov in &x.1 {
                            if !h.1.contains(prov) {
                                h.1.push(*prov);
                            }
                        }
                        h.2 += x.2;
                        h.3 += x.3;
                    }
                }
                h.1.sort();
                let status = if p.absent {
                    "absent"
                } else if p.active {
                    "active"
                } else {
                    "inactive"
                };
                let tone = if !p.is_current() && h.0 > 0 {
                    Tone::Danger
                } else if !p.is_current() {
                    Tone::Muted
                } else {
                    Tone::Normal
                };
                let email = p
                    .emails
                    .first()
                    .cloned()
                    .unwrap_or_else(|| p.user_name.clone());
                Row::new(
                    vec![
                        clean(&email),
                        clean(p.display_name.as_deref().unwrap_or("-")),
                        status.into(),
                        h.1.join(" "),
                        h.0.to_string(),
                        h.2.to_string(),
                        h.3.to_string(),
                        clean(p.department.as_deref().unwrap_or("-")),
                    ],
                    vec![NONE, NONE, NONE, NONE, h.0, h.2, h.3, NONE],
                    tone,
                    i,
                )
            })
            .collect();
        Table {
            columns: vec![
                Column::text("person", 28),
                Column::text("name", 18),
                Column::text("status", 8),
                Column::text("providers", 16),
                Column::num("accounts", 8, Unit::Count),
                Column::num("keys", 4, Unit::Count),
                Column::num("findings", 8, Unit::Count),
                Column::grow("dept", 8),
            ],
            rows,
        }
    }
}

/// What became of the revokes of what a person holds, as this snapshot can tell (the one judge
/// is [`crate::tui::data::Review::landed`], as the Keys view asks it): carried out after it was
/// taken, carried out before it yet still in it (granted again?), recorded and not applied.
#[derive(Default)]
pub(crate) struct Revoked {
    pub after: usize,
    pub still: usize,
    pub waiting: usize,
}

pub(crate) fn revoked(s: &State, item: u32, held: &[crate::review::NewDecision]) -> Revoked {
    let mut r = Revoked::default();
    for x in held {
        let Some(&(Verdict::Revoke, id)) = s.review.decided.get(&x.target) else {
            continue;
        };
        match s.review.landed(&s.data, ViewId::People, item, id) {
            Some(true) => r.after += 1,
            Some(false) => r.still += 1,
            None => r.waiting += 1,
        }
    }
    r
}

/// What a person holds on the providers, and what has been done about it since the snapshot
/// was taken: revokes carried out after it (the snapshot still lists them), revokes carried
/// out before it whose objects it still has, revokes recorded and not applied yet.
fn holds_line(s: &State, item: u32, held: &[crate::review::NewDecision]) -> String {
    use crate::model::text::plural;
    let d = &*s.data;
    let Revoked {
        after,
        still,
        waiting,
    } = revoked(s, item, held);
    let n = plural(held.len(), "item");
    let mut parts = Vec::new();
    if after > 0 {
        parts.push(format!(
            "{after} revoked after it was taken (:sync to see them gone)"
        ));
    }
    if still > 0 {
        parts.push(format!(
            "{still} revoked before it was taken, yet still here (granted again?)"
        ));
    }
    if waiting > 0 && waiting == held.len() {
        parts.push("a revoke recorded for each, not applied yet".to_string());
    } else if waiting > 0 {
        parts.push(format!("{waiting} with a revoke not applied yet"));
    }
    match (after, parts.is_empty()) {
        (_, true) => format!("{n} on providers (x revokes them all)"),
        (0, false) => format!("{n} on providers, {}", parts.join("; ")),
        _ => format!(
            "{n} on providers in snapshot #{}: {}",
            d.snapshot.id,
            parts.join("; ")
        ),
    }
}
