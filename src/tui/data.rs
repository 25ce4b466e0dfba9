//! What the console shows, built once per snapshot: the data, the findings, the decisions, and
//! one immutable table per view. Pure; the driver builds it off the UI thread and publishes it
//! as an `Arc`.

use std::collections::HashMap;

use crate::audit::Entry;
use crate::model::text::sanitize;
use crate::model::{Finding, Severity, Snapshot, Ts};
use crate::reconcile::digest::Digest;
use crate::reconcile::{Context, Directory, Rules};
use crate::review::{self, Decision, Target, Verdict};

use super::table::{NONE, Table, Tone};

const DAY: i64 = 86_400;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViewId {
    Dash,
    Gaps,
    People,
    Keys,
    Resources,
    Decisions,
    Audit,
    /// A campaign reviewer's queue (`recert review --campaign`): not in `ALL`, key `0`.
    Queue,
}

impl ViewId {
    pub const ALL: [ViewId; 7] = [
        ViewId::Dash,
        ViewId::Gaps,
        ViewId::People,
        ViewId::Keys,
        ViewId::Resources,
        ViewId::Decisions,
        ViewId::Audit,
    ];
    pub fn name(self) -> &'static str {
        super::views::of(self).name()
    }
    pub fn title(self) -> &'static str {
        super::views::of(self).title()
    }
    /// Its rows take decisions (and `decision:` filters).
    pub fn decidable(self) -> bool {
        super::views::of(self).decidable()
    }
    /// Position in `ALL`; also the number key that opens it.
    pub fn index(self) -> usize {
        if self == ViewId::Queue {
            return ViewId::ALL.len();
        }
        ViewId::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
}

/// One resource-view entry: a provider resource, a directory group, or a role.
#[derive(Clone, Debug)]
pub struct ResourceItem {
    pub provider: String,
    pub source: String,
    pub kind: String,
    pub id: String,
    pub name: String,
    pub members: i64,
    pub status: String,
}

/// Everything the console reads. Rebuilt whole on a new snapshot; decisions and audit entries
/// are replaced when the store changes.
#[derive(Default)]
pub struct Data {
    pub snapshot: Snapshot,
    pub findings: Vec<Finding>,
    pub resources: Vec<ResourceItem>,
    /// Indices into `snapshot.data.people`, one row per directory entry.
    pub people: Vec<u32>,
    pub rules: Rules,
    pub now: Ts,
    pub tables: HashMap<ViewId, std::sync::Arc<Table>>,
    /// The dashboard's counts and the first findings, computed once per snapshot (never per
    /// frame); stored beside the snapshot so the next start shows them at once.
    pub dash: Digest,
    /// A preview from the stored digest while the snapshot loads: the number of findings in
    /// all (only the first `digest::TOP` are here). Marks and decisions wait for the whole.
    pub partial: Option<u64>,
    /// The admin keys recert runs with: a plan never deletes them.
    pub own_keys: crate::remediate::OwnKeys,
    /// recert's ownership records the findings were judged with.
    pub owners: crate::reconcile::Owners,
    /// What a person calls each key and service account, by `source\0id`: a finding about
    /// one is labelled by it, not by an id or its owner's email.
    pub labels: HashMap<String, String>,
    /// The last person's sweep asked for: People's detail pane is drawn every frame, and a
    /// sweep reads the whole snapshot.
    sweep_memo: Memo<Sweep>,
    /// The last person's directory entries asked for, with what each says (alike).
    said_memo: Memo<Vec<crate::reconcile::Said>>,
    /// The last subject's provenance asked for, by `source\0kind\0id` (a detail pane is
    /// drawn every frame; the facts are a scan of the snapshot).
    facts_memo: std::sync::Mutex<Option<(String, Vec<String>)>>,
    /// The last key's findings asked for, by its index in the snapshot's credentials (Keys'
    /// detail pane is drawn every frame; the findings are a scan).
    key_findings_memo: Memo<Vec<String>>,
    /// The snapshot's accounts and resources by `(source, id)`, for what a detail pane looks
    /// up every frame (a key's owner, what it runs as, where it lives).
    accounts_by_id: ById,
    resources_by_id: ById,
}

/// Rows of one snapshot list found by `(source, id)` in log time, without copying either: the
/// rows' positions sorted by the pair, made on first use. Of equal pairs, the first in the
/// snapshot wins, as a scan would find it.
#[derive(Default)]
struct ById(std::sync::OnceLock<Vec<u32>>);

impl ById {
    fn find<'a, T>(
        &self,
        rows: &'a [T],
        key: for<'x> fn(&'x T) -> (&'x str, &'x str),
        source: &str,
        id: &str,
    ) -> Option<&'a T> {
        let order = self.0.get_or_init(|| {
            let mut order: Vec<u32> = (0..rows.len() as u32).collect();
            // Stable: equal pairs keep the snapshot's order.
            order.sort_by(|&a, &b| key(&rows[a as usize]).cmp(&key(&rows[b as usize])));
            order
        });
        let at = order.partition_point(|&i| key(&rows[i as usize]) < (source, id));
        let row = &rows[*order.get(at)? as usize];
        (key(row) == (source, id)).then_some(row)
    }
}

type Sweep = Result<Vec<crate::review::NewDecision>, String>;

/// The last person's answer asked for (the People pane is drawn every frame; what it shows of
/// a person reads the whole snapshot once).
struct Memo<T>(std::sync::Mutex<Option<(u32, T)>>);

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Memo(std::sync::Mutex::new(None))
    }
}

impl<T: Clone> Memo<T> {
    fn get(&self, person: u32, make: impl FnOnce() -> T) -> T {
        let mut memo = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((p, v)) = &*memo
            && *p == person
        {
            return v.clone();
        }
        let v = make();
        *memo = Some((person, v.clone()));
        v
    }
}

/// Per canonical email: (accounts, provider names, keys, findings).
pub(crate) type Holdings<'d> = rustc_hash::FxHashMap<String, (i64, Vec<&'d str>, i64, i64)>;

pub(crate) fn label_key(source: &str, id: &str) -> String {
    format!("{source}\0{id}")
}

pub(crate) fn days(now: Ts, t: Option<Ts>) -> i64 {
    t.map(|t| ((now - t) / DAY).max(0)).unwrap_or(NONE)
}

pub(crate) fn show_days(n: i64) -> String {
    if n == NONE {
        "-".into()
    } else {
        format!("{n}d")
    }
}

pub(crate) fn show_cents(c: Option<i64>) -> String {
    match c {
        Some(c) => format!("${}.{:02}", c / 100, c % 100),
        None => "-".into(),
    }
}

pub(crate) fn clean(s: &str) -> String {
    sanitize(s).into_owned()
}

/// A severity in four letters, as the tables show it.
pub fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRIT",
        Severity::High => "HIGH",
        Severity::Medium => "MED",
        Severity::Low => "LOW",
        Severity::Info => "INFO",
    }
}

pub fn severity_tone(s: Severity) -> Tone {
    match s {
        Severity::Critical => Tone::Danger,
        Severity::High => Tone::Warn,
        Severity::Medium => Tone::Accent,
        Severity::Low | Severity::Info => Tone::Muted,
    }
}

pub fn finding_target(f: &Finding) -> Target {
    Target::new(&f.provider, &f.source, &f.subject_kind, &f.subject_id)
}

impl Data {
    /// The console's data for a snapshot the engine judged (its digest made there).
    pub fn judged(j: crate::engine::load::Judged) -> Data {
        let mut d = Data::with_digest(j.snapshot, j.findings, j.cx, Some(j.digest));
        d.own_keys = j.own_keys;
        d
    }

    /// The console's data for `snapshot`, whose `findings` were judged in `cx`.
    pub fn new(snapshot: Snapshot, findings: Vec<Finding>, cx: Context) -> Data {
        Data::with_digest(snapshot, findings, cx, None)
    }

    fn with_digest(
        snapshot: Snapshot,
        findings: Vec<Finding>,
        cx: Context,
        dash: Option<Digest>,
    ) -> Data {
        let mut d = Data {
            snapshot,
            findings,
            rules: cx.rules,
            now: cx.now,
            owners: cx.owners,
            ..Default::default()
        };
        let now = d.now;
        d.people = (0..d.snapshot.data.people.len() as u32).collect();
        let sd = &d.snapshot.data;
        // A service account by its name and project: several projects often have their own
        // `search-bot`, and the rows must tell them apart.
        let project: HashMap<(&str, &str), &str> = sd
            .resources
            .iter()
            .map(|r| {
                let name = r.name.as_deref().unwrap_or(&r.id);
                ((r.source.as_str(), r.id.as_str()), name)
            })
            .collect();
        d.labels = sd
            .credentials
            .iter()
            .map(|c| (label_key(&c.source, &c.id), clean(&c.label())))
            .chain(sd.service_accounts.iter().map(|s| {
                let name = s.name.as_deref().unwrap_or(&s.id);
                let label = match s.resource_id.as_deref() {
                    Some(r) => {
                        let p = project.get(&(s.source.as_str(), r)).copied().unwrap_or(r);
                        format!("{name} in {p}")
                    }
                    None => name.to_string(),
                };
                (label_key(&s.source, &s.id), clean(&label))
            }))
            .collect();
        // The tables and the digest read the data and nothing of each other: built side by
        // side on both cores, with one directory index for the views that resolve people.
        let (dash, resources, [gaps, people, keys, res]) = {
            let d = &d;
            let dir = d.directory();
            let dir = &dir;
            let ((dash, gaps), ((people, keys), res)) = rayon::join(
                || {
                    rayon::join(
                        || dash.unwrap_or_else(|| Digest::new(&d.snapshot.data, &d.findings, now)),
                        || d.gaps_table(),
                    )
                },
                || {
                    rayon::join(
                        || rayon::join(|| d.people_table(dir), || d.keys_table()),
                        || {
                            let items = resources(d);
                            let table = Data::resources_table(&items);
                            (items, table)
                        },
                    )
                },
            );
            let (resources, res) = res;
            (dash, resources, [gaps, people, keys, res])
        };
        d.dash = dash;
        d.resources = resources;
        for (v, t) in [
            (ViewId::Gaps, gaps),
            (ViewId::People, people),
            (ViewId::Keys, keys),
            (ViewId::Resources, res),
        ] {
            d.tables.insert(v, t.into());
        }
        d
    }

    /// What the console shows while a snapshot loads: its header (`snapshot` without data),
    /// the dashboard and the first findings from its stored digest. Only the Gaps view has rows.
    pub fn preview(snapshot: Snapshot, digest: Digest, rules: Rules, now: Ts) -> Data {
        let mut d = Data {
            snapshot,
            findings: digest.top.clone(),
            rules,
            now,
            partial: Some(digest.total),
            dash: digest,
            ..Default::default()
        };
        let gaps = d.gaps_table();
        d.tables.insert(ViewId::Gaps, gaps.into());
        d
    }

    pub fn table(&self, v: ViewId) -> std::sync::Arc<Table> {
        self.tables.get(&v).cloned().unwrap_or_default()
    }

    pub(crate) fn directory(&self) -> Directory<'_> {
        Directory::new(&self.snapshot.data.people, &self.rules)
    }

    /// What each address holds, for the People view.
    pub(crate) fn holdings(&self, dir: &Directory) -> Holdings<'_> {
        use rayon::prelude::*;
        let d = &self.snapshot.data;
        // Each account's address resolved once, on both cores.
        let canon: Vec<Option<String>> = d
            .accounts
            .par_iter()
            .map(|a| a.email.as_deref().map(|e| dir.canonical(e)))
            .collect();
        let mut by = Holdings::default();
        let mut account_email: rustc_hash::FxHashMap<(&str, &str), &str> = Default::default();
        for (a, key) in d.accounts.iter().zip(&canon) {
            let Some(key) = key else { continue };
            account_email.insert((&a.source, &a.id), key);
            let h = by.entry(key.clone()).or_default();
            h.0 += 1;
            if !h.1.contains(&a.provider.as_str()) {
                h.1.push(&a.provider);
            }
        }
        for c in &d.credentials {
            let Some(o) = &c.owner else { continue };
            let key = o.email.as_deref().map(|e| dir.canonical(e)).or_else(|| {
                account_email
                    .get(&(c.source.as_str(), o.id.as_str()))
                    .map(|k| k.to_string())
            });
            if let Some(k) = key {
                by.entry(k).or_default().2 += 1;
            }
        }
        // A million findings name far fewer addresses: count them by address, one part per
        // core, then resolve each address once.
        type Counts<'f> = rustc_hash::FxHashMap<&'f str, i64>;
        let part = self
            .findings
            .len()
            .div_ceil(rayon::current_num_threads().max(1))
            .max(1);
        let per_email = self
            .findings
            .par_chunks(part)
            .map(|fs| {
                let mut m = Counts::default();
                for f in fs {
                    if let Some(e) = &f.subject_email {
                        *m.entry(&**e).or_default() += 1;
                    }
                }
                m
            })
            .reduce(Counts::default, |mut a, b| {
                for (e, n) in b {
                    *a.entry(e).or_default() += n;
                }
                a
            });
        for (e, n) in per_email {
            by.entry(dir.canonical(e)).or_default().3 += n;
        }
        by
    }

    /// Who answers for a key and where that came from (`reconcile::accountable`), as the
    /// Keys view shows them: `-` when nobody does. For one key (a detail pane).
    pub fn key_owner(&self, c: &crate::model::Credential) -> KeyOwner {
        self.key_owner_in(c, |source, id| {
            self.account(source, id).map(|a| a.email.as_deref())
        })
    }

    /// The snapshot's account `id` on `source`.
    pub fn account(&self, source: &str, id: &str) -> Option<&crate::model::Account> {
        self.accounts_by_id.find(
            &self.snapshot.data.accounts,
            |a| (&a.source, &a.id),
            source,
            id,
        )
    }

    /// `key_owner` with the accounts looked up by `account_of(source, id)`: `None` when the
    /// org lists no such account, else its email if it has one. A provider user the org no
    /// longer lists, known only by an id, is said so (`not in org: user-…`): a bare id reads
    /// like anyone's.
    pub(crate) fn key_owner_in<'a>(
        &self,
        c: &crate::model::Credential,
        account_of: impl Fn(&str, &str) -> Option<Option<&'a str>>,
    ) -> KeyOwner {
        let email = |s: &str, id: &str| account_of(s, id).flatten().map(std::sync::Arc::from);
        match crate::reconcile::accountable(c, &self.owners, email) {
            None => KeyOwner {
                who: "-".into(),
                via: "-",
            },
            Some(a) => {
                let gone = a.via == crate::reconcile::Via::Provider
                    && c.owner.as_ref().is_some_and(|o| {
                        o.kind == "user"
                            && *a.who == *o.id
                            && account_of(&c.source, &o.id).is_none()
                    });
                let who = if gone {
                    format!("not in org: {}", clean(&a.who))
                } else {
                    clean(&a.who)
                };
                KeyOwner {
                    who,
                    via: a.via.as_str(),
                }
            }
        }
    }

    pub fn resource_name(&self, source: &str, id: &str) -> String {
        let resource = self.resources_by_id.find(
            &self.snapshot.data.resources,
            |r| (&r.source, &r.id),
            source,
            id,
        );
        clean(resource.and_then(|r| r.name.as_deref()).unwrap_or(id))
    }

    /// The provider id of what a row of `view` is about (its target's id), without building
    /// the target: a quick first test when looking rows up among a million.
    pub fn target_id(&self, view: ViewId, item: u32) -> Option<&str> {
        crate::tui::views::of(view).target_id(self, item)
    }

    /// Where `Enter` on a row of `view` leads (k9s's drill-in). `None`: nothing to open.
    pub fn drill(&self, view: ViewId, item: u32) -> Option<Drill> {
        crate::tui::views::of(view).drill(self, item)
    }

    /// What a row of `view` is about, for decisions: `(target, label, rule)`.
    pub fn target(&self, view: ViewId, item: u32) -> Option<(Target, String, Option<String>)> {
        crate::tui::views::of(view).target(self, item)
    }

    /// The Keys view's row for a key.
    pub(crate) fn key_row(&self, source: &str, id: &str) -> Option<u32> {
        self.snapshot
            .data
            .credentials
            .iter()
            .position(|c| c.source == source && c.id == id)
            .map(|i| i as u32)
    }

    /// The People view's row for the person `email` names (any of their addresses).
    pub(crate) fn person_row(&self, email: &str) -> Option<u32> {
        let d = &self.snapshot.data;
        let dir = self.directory();
        let want = dir.canonical(email);
        self.people.iter().copied().find(|&i| {
            d.people[i as usize]
                .emails
                .iter()
                .any(|e| dir.canonical(e) == want)
        })
    }

    /// The Resources view's row for a resource.
    pub(crate) fn resource_row(&self, source: &str, id: &str) -> Option<u32> {
        self.resources
            .iter()
            .position(|r| r.source == source && r.id == id)
            .map(|i| i as u32)
    }

    /// Everything one directory person holds on every provider, as the revoke decisions
    /// `recert revoke --person` makes ([`crate::engine::incident::sweep`]); why not, when
    /// their address is shared with another person.
    /// Computed once per person and snapshot (this `Data`), however often it is drawn.
    pub fn sweep(&self, person: u32) -> Sweep {
        self.sweep_memo.get(person, || {
            let d = &self.snapshot.data;
            match d.people.get(person as usize).and_then(|p| p.emails.first()) {
                Some(email) => {
                    crate::engine::incident::sweep(d, &self.rules, email).map(|s| s.items)
                }
                None => Ok(Vec::new()),
            }
        })
    }

    /// What the provider's audit log says about one subject (`reconcile::provenance::about`):
    /// who created it, who added it, its last login. Computed once per subject, however often
    /// it is drawn.
    pub fn provenance(&self, source: &str, kind: &str, id: &str) -> Vec<String> {
        // A finding names an admin key `admin_key`; the log names every key `api_key`.
        let kind = if kind == "admin_key" { "api_key" } else { kind };
        let key = format!("{source}\0{kind}\0{id}");
        let mut memo = self.facts_memo.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, v)) = &*memo
            && *k == key
        {
            return v.clone();
        }
        let v = crate::reconcile::provenance::about(&self.snapshot.data, source, kind, id);
        *memo = Some((key, v.clone()));
        v
    }

    /// The findings about key `i` of the snapshot's credentials and the service account it
    /// runs as, as its detail lists them: `RULE (severity): detail`, in the findings' order.
    /// Why a key's row has its colour, on the key.
    pub fn key_findings(&self, i: u32) -> Vec<String> {
        self.key_findings_memo.get(i, || {
            let Some(c) = self.snapshot.data.credentials.get(i as usize) else {
                return Vec::new();
            };
            let about = crate::tui::views::keys::KeySubject::of_key(c);
            self.findings
                .iter()
                .filter(|f| {
                    let at = crate::tui::views::keys::KeySubject::of_finding(f);
                    at.is_some() && about.contains(&at)
                })
                .map(|f| format!("{} ({}): {}", f.rule, f.severity.as_str(), clean(&f.detail)))
                .collect()
        })
    }

    /// The owner recert suggests for a service account nobody owns: its creator, if current
    /// (`reconcile::provenance::suggested_owner`, as the finding says it).
    pub fn suggested_owner(
        &self,
        source: &str,
        service_account: &str,
    ) -> Option<crate::reconcile::provenance::Suggested> {
        let facts = crate::reconcile::provenance::Facts::new(&self.snapshot.data);
        crate::reconcile::provenance::suggested_owner(
            &facts,
            &self.directory(),
            source,
            service_account,
        )
    }

    /// What every directory entry of this person says (`reconcile::said`, the entries
    /// `recert person` shows for their address), the row's own entry first.
    /// Computed once per person and snapshot, however often it is drawn.
    pub fn said(&self, person: u32) -> Vec<crate::reconcile::Said> {
        self.said_memo.get(person, || {
            let d = &self.snapshot.data;
            let Some(me) = d.people.get(person as usize) else {
                return Vec::new();
            };
            let dir = self.directory();
            let mut entries: Vec<&crate::model::Person> = vec![me];
            if let Some(email) = me.emails.first() {
                entries.extend(
                    dir.people(email)
                        .iter()
                        .copied()
                        .filter(|p| !(p.source == me.source && p.id == me.id)),
                );
            }
            crate::reconcile::said(d, &entries)
        })
    }

    /// Directory people for the owner picker, current people only, with what tells two people
    /// of one name apart.
    pub fn people_choices(&self) -> Vec<Choice> {
        let mut v: Vec<Choice> = self
            .snapshot
            .data
            .people
            .iter()
            .filter(|p| p.is_current())
            .filter_map(|p| {
                let about: Vec<&str> = [p.department.as_deref(), p.title.as_deref()]
                    .into_iter()
                    .flatten()
                    .filter(|s| !s.is_empty())
                    .collect();
                p.emails.first().map(|e| Choice {
                    email: clean(e),
                    name: clean(p.display_name.as_deref().unwrap_or("")),
                    about: clean(&about.join(" · ")),
                })
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Where `Enter` on a row leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Drill {
    /// `view`, on the row showing `item` (an index into that view's source list), unfiltered.
    Row {
        view: ViewId,
        item: u32,
        what: String,
    },
    /// `view`, filtered by `filter`.
    Filter {
        view: ViewId,
        filter: String,
        what: String,
    },
}

impl Drill {
    /// `view` on the row showing `item`, named by `what` (cleaned for the screen).
    pub(crate) fn row(view: ViewId, item: u32, what: &str) -> Drill {
        Drill::Row {
            view,
            item,
            what: clean(what),
        }
    }
}

/// One person the owner picker offers.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Choice {
    pub email: String,
    pub name: String,
    /// Department and title: `Engineering · Staff Engineer`.
    pub about: String,
}

/// The decisions and the audit log: replaced whenever the store changes (a decision, an undo).
#[derive(Default, Clone)]
pub struct Review {
    pub decisions: Vec<Decision>,
    /// The decision standing for each target (latest, not undone).
    pub decided: HashMap<Target, (Verdict, i64)>,
    pub audit: Vec<Entry>,
    /// Indices into `decisions` of the standing ones, newest first.
    pub pending: Vec<u32>,
    pub tables: HashMap<ViewId, std::sync::Arc<Table>>,
    /// Decisions some plan already covers (applied, or in a plan being applied).
    pub planned: std::collections::HashSet<i64>,
    /// Every plan's journal rows, for reversing a call from the audit view.
    pub journal: Vec<crate::remediate::JournalRow>,
    /// In a campaign: the reviewer's queue and where it stands.
    pub queue: Option<Queue>,
    /// Per decision id: what became of its remediation (`remediation_states`).
    pub remediation: HashMap<i64, String>,
    /// Per decision id whose calls are all done: when the last one was.
    pub done_at: HashMap<i64, Ts>,
}

/// Per decision id, what its plan did, from the journal rows that carry it: `failed, HTTP 403:
/// REASON` before `sent, no answer yet` before `planned` before `manual step` before
/// `abandoned` before `done, HTTP 200`, each with its plan. A decision no plan covers has none.
pub fn remediation_states(journal: &[crate::remediate::JournalRow]) -> HashMap<i64, String> {
    use crate::remediate::RowState;
    crate::engine::review::outcome_rows(journal)
        .into_iter()
        .map(|(d, r)| {
            // The provider's answer as people read it: `done, HTTP 200`, not `done 200`.
            let status = r.status.map(|s| format!(", HTTP {s}")).unwrap_or_default();
            let what = match r.state {
                RowState::Failed => format!(
                    "failed{status}: {}",
                    r.result.as_deref().unwrap_or("no reason given")
                ),
                RowState::Sent => "sent, no answer yet".to_string(),
                RowState::Pending => "planned".to_string(),
                RowState::Manual => "manual step".to_string(),
                RowState::Abandoned => "abandoned".to_string(),
                // The newest row is the key set active again: the revoke was undone.
                RowState::Done if crate::remediate::is_reversal(r) => {
                    format!("reversed{status}")
                }
                RowState::Done => format!("done{status}"),
            };
            (d, clean(&format!("{what} (plan {})", r.plan)))
        })
        .collect()
}

pub use crate::engine::review::Queue;

/// A key's accountable owner as the Keys view shows it (`Data::key_owner`).
pub struct KeyOwner {
    /// An email, a name or id, `not in org: ID`, or `-` when nobody answers for the key.
    pub who: String,
    /// `record`, `provider`, `inferred`, or `-`.
    pub via: &'static str,
}

impl Review {
    pub fn new(decisions: Vec<Decision>, audit: Vec<Entry>) -> Review {
        let mut r = Review::default();
        r.set(decisions, audit);
        r
    }

    /// The standing revoke decisions no plan covers yet: what `:apply` would send.
    pub fn to_apply(&self) -> Vec<&Decision> {
        crate::engine::apply::standing(&self.decisions, &self.planned)
    }

    /// Replace the decisions and the audit log (after a decision, undo or redo).
    fn set(&mut self, decisions: Vec<Decision>, audit: Vec<Entry>) {
        self.decided = review::effective(&decisions)
            .into_iter()
            .map(|x| (x.d.target.clone(), (x.d.verdict, x.id)))
            .collect();
        self.decisions = decisions;
        let mut pending: Vec<u32> = self
            .decided
            .values()
            // Stored in id order.
            .filter_map(|(_, id)| self.decisions.binary_search_by_key(id, |x| x.id).ok())
            .map(|i| i as u32)
            .collect();
        pending.sort_by_key(|&i| std::cmp::Reverse(self.decisions[i as usize].id));
        self.pending = pending;
        self.audit = audit;
        let t = self.decisions_table();
        self.tables.insert(ViewId::Decisions, t.into());
        let t = self.audit_table();
        self.tables.insert(ViewId::Audit, t.into());
        if let Some(q) = &self.queue {
            self.tables
                .insert(ViewId::Queue, super::views::queue::queue_table(q).into());
        }
    }

    /// The decisions and the log, with a campaign reviewer's queue as it now stands.
    /// The console's review from the engine's read model: every table built here, off the
    /// UI thread.
    pub fn from_read(r: crate::engine::review::ReadModel) -> Review {
        Review::with_queue(r.decisions, r.audit, r.queue).with_journal(r.planned, r.journal)
    }

    pub fn with_queue(decisions: Vec<Decision>, audit: Vec<Entry>, queue: Option<Queue>) -> Review {
        let mut r = Review {
            queue,
            ..Default::default()
        };
        r.set(decisions, audit);
        r
    }

    /// With what the plans did: the decisions some plan covers, and each one's remediation
    /// state from the journal (shown per row in the Decisions view).
    pub fn with_journal(
        mut self,
        planned: std::collections::HashSet<i64>,
        journal: Vec<crate::remediate::JournalRow>,
    ) -> Review {
        self.planned = planned;
        self.remediation = remediation_states(&journal);
        self.done_at = crate::engine::review::carried_out(&journal)
            .into_iter()
            .map(|(d, (at, _))| (d, at))
            .collect();
        self.journal = journal;
        let t = self.decisions_table();
        self.tables.insert(ViewId::Decisions, t.into());
        self
    }

    /// The newest plan in the journal (0: none): what a plan made now is planned against.
    pub fn newest_plan(&self) -> i64 {
        self.journal.iter().map(|r| r.plan).max().unwrap_or(0)
    }

    /// What became of decision `id`'s remediation: its journal state, `not applied yet` for a
    /// revoke no plan covers, nothing for the other verdicts.
    pub fn remediation_of(&self, d: &Decision) -> String {
        match self.remediation.get(&d.id) {
            Some(s) => s.clone(),
            None if d.d.verdict == Verdict::Revoke && !self.planned.contains(&d.id) => {
                "not applied yet".into()
            }
            None => "-".into(),
        }
    }

    pub fn verdict(&self, t: &Target) -> Option<Verdict> {
        self.decided.get(t).map(|(v, _)| *v)
    }

    /// What this snapshot shows of decision `id`'s plan, for the row of `view` showing
    /// `item`: `None` when no plan has carried it out (the provider answered done, and no
    /// later call reversed it); `Some(true)` when it landed as far as the snapshot can tell
    /// (done after the snapshot was taken, or the item is no longer usable: an Anthropic key
    /// set inactive); `Some(false)` when a snapshot taken after still has it usable (granted
    /// again, or the call did not take). One answer for the row's mark and its detail.
    pub fn landed(&self, d: &Data, view: ViewId, item: u32, id: i64) -> Option<bool> {
        let at = *self.done_at.get(&id)?;
        let usable = match view {
            ViewId::Keys => d
                .snapshot
                .data
                .credentials
                .get(item as usize)
                .is_none_or(|c| c.usable()),
            _ => true,
        };
        Some(crate::engine::review::landed(
            at,
            d.snapshot.taken_at,
            usable,
        ))
    }
}

/// Provider resources, directory groups and roles, with member counts.
fn resources(d: &Data) -> Vec<ResourceItem> {
    let data = &d.snapshot.data;
    let mut members: rustc_hash::FxHashMap<(&str, &str), i64> = Default::default();
    for g in &data.grants {
        *members.entry((&g.source, &g.resource_id)).or_default() += 1;
    }
    let mut out: Vec<ResourceItem> = data
        .resources
        .iter()
        .map(|r| ResourceItem {
            provider: r.provider.clone(),
            source: r.source.clone(),
            kind: r.kind.clone(),
            id: r.id.clone(),
            name: r.name.clone().unwrap_or_else(|| r.id.clone()),
            members: members
                .get(&(r.source.as_str(), r.id.as_str()))
                .copied()
                .unwrap_or(0),
            status: if r.archived { "archived" } else { "active" }.into(),
        })
        .collect();
    let mut groups: rustc_hash::FxHashMap<(&str, &str), i64> = Default::default();
    for p in &data.people {
        for g in &p.groups {
            *groups.entry((&p.source, g)).or_default() += 1;
        }
    }
    let mut gv: Vec<_> = groups.into_iter().collect();
    gv.sort();
    for ((source, g), n) in gv {
        out.push(ResourceItem {
            provider: "directory".into(),
            source: source.into(),
            kind: "group".into(),
            id: g.into(),
            name: g.into(),
            members: n,
            status: "active".into(),
        });
    }
    let mut roles: rustc_hash::FxHashMap<(&str, &str, &str), i64> = Default::default();
    for a in &data.accounts {
        if let Some(r) = &a.role {
            *roles.entry((&a.provider, &a.source, r)).or_default() += 1;
        }
    }
    for g in &data.grants {
        if let Some(r) = &g.role {
            *roles.entry((&g.provider, &g.source, r)).or_default() += 1;
        }
    }
    let mut rv: Vec<_> = roles.into_iter().collect();
    rv.sort();
    for ((provider, source, r), n) in rv {
        out.push(ResourceItem {
            provider: provider.into(),
            source: source.into(),
            kind: "role".into(),
            id: format!("role:{r}"),
            name: r.into(),
            members: n,
            status: "active".into(),
        });
    }
    out
}
