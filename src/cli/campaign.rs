//! `recert campaign …`: create, list, status, items, decide (stage), submit, delegate, sign
//! off, close and report. The console (`recert review --campaign`) drives the same store calls.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::{Format, Globals, acting_as, no_snapshot, refuse_read_only};
use crate::config::Config;
use crate::model::text::{plural, sanitize};
use crate::reconcile::{self, Directory};
use crate::review::campaign::{
    self as camp, Change, Inputs, OnClose, People, Route, Routing, Scope,
};
use crate::review::campaign::{Campaign, CampaignItem, NewCampaign};
use crate::review::{NewDecision, Verdict};
use crate::store::Store;

/// `recert campaign new`'s arguments.
pub struct NewArgs {
    pub name: String,
    pub due: String,
    pub scope: Scope,
    pub on_close: OnClose,
    pub since: Option<String>,
    /// Routing rules from the command line (`manager`, `owner`, an email, `group:NAME`), in
    /// order; they replace the config's `[review]` rules when given.
    pub routes: Vec<String>,
    pub fallback: Option<String>,
    pub allow_self_review: bool,
    /// Route to reviewers the directory does not know.
    pub force: bool,
}

fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The routing a new campaign uses: the config's `[review]`, with the command line's rules and
/// fallback in its place where given.
fn routing(cfg: &Config, a: &NewArgs) -> Result<Routing> {
    let mut r = cfg.review.clone();
    if !a.routes.is_empty() {
        r.routes = a
            .routes
            .iter()
            .map(|s| Route {
                reviewer: s.trim().to_string(),
                ..Default::default()
            })
            .collect();
    }
    if a.fallback.is_some() {
        r.fallback = a.fallback.clone();
    }
    r.allow_self_review |= a.allow_self_review;
    r.check()
        .map_err(|e| anyhow::anyhow!("campaign routing: {e}"))?;
    Ok(r)
}

pub fn new(g: &Globals, a: NewArgs) -> Result<()> {
    let cfg = g.config()?;
    refuse_read_only(g, &cfg, "campaign new")?;
    let due =
        crate::review::parse_until(&a.due, today()).map_err(|e| anyhow::anyhow!("--due {e}"))?;
    for r in &a.scope.rules {
        if !reconcile::is_rule(r) {
            bail!("--rule {r}: no such rule (`recert gaps` lists them)");
        }
    }
    let routing = routing(&cfg, &a)?;
    let mut store = Store::open(&g.paths.store)?;
    let snap = store.latest_snapshot()?.ok_or_else(|| no_snapshot(g))?;
    if !a.force {
        let dir = Directory::new(&snap.data.people, &cfg.rules);
        let people = People::new(&snap.data.people, &dir);
        crate::engine::campaign::check_routing(&people, &routing).context("campaign routing")?;
    }
    let since = match &a.since {
        Some(n) => Some(store.campaign(n)?),
        None => None,
    };
    // Recommendations compare with the campaign given by --since, else the latest one.
    let previous = match &since {
        Some(c) => Some(c.clone()),
        None => store.campaigns()?.pop(),
    };
    let earlier = match &previous {
        Some(c) => Some(store.earlier(c.id)?),
        None => None,
    };
    let decisions = store.decisions()?;
    let owners = crate::review::owners(&decisions);
    let (_, findings) = super::judged(&cfg, &g.paths.store, &snap)?;
    let items = camp::freeze(&Inputs {
        data: &snap.data,
        findings: &findings,
        rules: &cfg.rules,
        now: snap.taken_at,
        owners: &owners,
        scope: &a.scope,
        routing: &routing,
        earlier: earlier.as_deref(),
        carry_forward: since.is_some(),
    });
    if items.is_empty() {
        bail!(
            "the scope matches nothing in snapshot #{}: no campaign was created; widen --provider/--resource/--rule/--where",
            snap.id
        );
    }
    let actor = acting_as(g, &cfg, None)?;
    let id = store.create_campaign(
        &NewCampaign {
            name: &a.name,
            snapshot_id: snap.id,
            due: &due.to_string(),
            scope: &a.scope,
            routing: &routing,
            on_close: a.on_close,
            since: since.as_ref().map(|c| c.id),
        },
        &items,
        &actor,
        now(),
    )?;
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for it in &items {
        *per.entry(&it.reviewer).or_default() += 1;
    }
    println!(
        "campaign {} (#{id}) created from snapshot #{}: {}, due {due}, undecided at close: {}",
        a.name,
        snap.id,
        plural(items.len(), "item"),
        a.on_close.as_str()
    );
    for (r, n) in &per {
        println!("  {n:>6}  {}", sanitize(r));
    }
    if let (Some(s), Some(e)) = (&since, &earlier) {
        let count = |c: Change| items.iter().filter(|i| i.change == Some(c)).count();
        println!(
            "since {}: {} new, {} modified, {} removed, {} unchanged (pre-filled from its decisions)",
            s.name,
            count(Change::New),
            count(Change::Modified),
            camp::removed_since(&items, e).len(),
            count(Change::Unchanged)
        );
    }
    let recs = items.iter().filter(|i| i.recommendation.is_some()).count();
    println!(
        "{} a recommendation (never applied on its own)",
        plural(recs, "item") + if recs == 1 { " carries" } else { " carry" }
    );
    Ok(())
}

/// `due in 9 days (2026-12-01)`.
fn due_text(due: &str) -> String {
    format!("{} ({due})", camp::due_in(due, today()))
}

pub fn list(g: &Globals, format: Format) -> Result<()> {
    let store = Store::open(&g.paths.store)?;
    let all = store.campaigns()?;
    let mut rows = Vec::new();
    for c in &all {
        let items = store.campaign_items(c.id)?;
        let done = items.iter().filter(|i| i.decided()).count();
        rows.push(serde_json::json!({
            "name": c.name,
            "snapshot": c.snapshot_id,
            "due": c.due,
            "items": items.len(),
            "decided": done,
            "state": c.state(),
            "since": c.since,
        }));
    }
    match format {
        Format::Json => println!("{}", crate::model::text::json_pretty(&rows)?),
        _ if all.is_empty() => println!(
            "no campaigns yet: `recert campaign new --name 2026-Q4 --due YYYY-MM-DD --fallback EMAIL` freezes one from the latest snapshot (the fallback reviewer gets the items no manager or owner is found for)"
        ),
        _ => {
            let head = ["NAME", "SNAPSHOT", "ITEMS", "DECIDED", "STATE", "DUE"].map(String::from);
            let lines = all.iter().zip(&rows).map(|(c, r)| {
                // Numbers as numbers: a JSON value's Display ignores the column width.
                let n = |k: &str| r[k].as_u64().unwrap_or(0).to_string();
                [
                    c.name.clone(),
                    c.snapshot_id.to_string(),
                    n("items"),
                    n("decided"),
                    c.state().to_string(),
                    if c.is_final() {
                        c.due.clone()
                    } else {
                        due_text(&c.due)
                    },
                ]
            });
            print!(
                "{}",
                crate::model::text::columns(std::iter::once(head).chain(lines), &[1, 2, 3])
            );
        }
    }
    Ok(())
}

/// Per reviewer: items, decided, staged, signed off.
#[derive(Debug, Default, serde::Serialize)]
pub struct Queue {
    pub items: usize,
    pub decided: usize,
    pub staged: usize,
    pub signed_off: bool,
    /// Who signed it off: the reviewer, or for a `group:NAME` queue the members who did.
    pub signed_off_by: Vec<String>,
}

/// Per assignee, their queue. `groups` holds the members of the directory groups that have
/// queues (a member's sign-off signs off their group's queue too).
pub fn queues(
    items: &[CampaignItem],
    signed: &[String],
    groups: &std::collections::HashMap<String, std::collections::HashSet<String>>,
) -> BTreeMap<String, Queue> {
    let mut m: BTreeMap<String, Queue> = BTreeMap::new();
    for i in items {
        let q = m.entry(i.assigned.clone()).or_default();
        q.items += 1;
        q.decided += i.decided() as usize;
        q.staged += (!i.decided() && i.staged.is_some()) as usize;
    }
    for (r, q) in m.iter_mut() {
        let members = r.strip_prefix("group:").and_then(|g| groups.get(g));
        q.signed_off_by = signed
            .iter()
            .filter(|s| *s == r || members.is_some_and(|m| m.contains(*s)))
            .cloned()
            .collect();
        q.signed_off = !q.signed_off_by.is_empty();
    }
    m
}

/// Per queue with items left (and not signed off): the reviewer and the reminder for them.
pub fn reminders(c: &Campaign, queues: &BTreeMap<String, Queue>) -> Vec<(String, String)> {
    queues
        .iter()
        .filter(|(_, q)| !q.signed_off && q.items > q.decided)
        .map(|(who, q)| {
            let left = q.items - q.decided;
            let staged = if q.staged > 0 {
                format!(" ({} staged, not yet submitted)", q.staged)
            } else {
                String::new()
            };
            let (whom, open_as) = match who.strip_prefix("group:") {
                Some(g) => (
                    format!("Members of {g}"),
                    "--as YOUR_EMAIL".to_string(),
                ),
                None => (who.clone(), format!("--as {who}")),
            };
            let text = format!(
                "Reminder from recert: access review {} is {}. {whom}: {left} of {} to review{staged}. Open your queue with `recert review --campaign {} {open_as}`.",
                c.name,
                due_text(&c.due),
                plural(q.items, "item"),
                c.name
            );
            (who.clone(), sanitize(&text).into_owned())
        })
        .collect()
}

/// `recert campaign remind NAME [--dry-run]`: one message per reviewer with open items,
/// through the chat webhook; who was reminded is audited.
pub async fn remind(g: &Globals, name: &str, dry_run: bool) -> Result<()> {
    let cfg = g.config()?;
    let mut store = Store::open(&g.paths.store)?;
    let c = store.campaign(name)?;
    c.refuse_if_final().map_err(anyhow::Error::msg)?;
    let items = store.campaign_items(c.id)?;
    let signed: Vec<String> = store
        .sign_offs(c.id)?
        .into_iter()
        .map(|s| s.reviewer)
        .collect();
    let groups = if items.iter().any(|i| i.assigned.starts_with("group:")) {
        people_of(&store, &cfg, &c)?.groups
    } else {
        Default::default()
    };
    let to_send = reminders(&c, &queues(&items, &signed, &groups));
    if to_send.is_empty() {
        println!("nobody has open items in {}: nothing to send", c.name);
        return Ok(());
    }
    if dry_run {
        for (_, text) in &to_send {
            println!(
                "{}",
                crate::model::text::json_line(&crate::notify::message(text))?
            );
        }
        println!(
            "dry run: {} would be sent; nothing was sent",
            plural(to_send.len(), "reminder")
        );
        return Ok(());
    }
    let hook = crate::notify::Webhook::configured(&cfg).map_err(|e| anyhow::anyhow!(e))?;
    let (mut reminded, mut failed) = (Vec::new(), Vec::new());
    for (who, text) in &to_send {
        match hook.post(&crate::notify::message(text)).await {
            Ok(_) => reminded.push(who.clone()),
            Err(e) => {
                eprintln!("{}: not sent: {e}", sanitize(who));
                failed.push(who.clone());
            }
        }
    }
    store.record_reminders(
        c.id,
        &acting_as(g, &cfg, None)?,
        &reminded,
        &failed,
        chrono::Utc::now().timestamp(),
    )?;
    println!(
        "reminded {} of {} (audited)",
        plural(reminded.len(), "reviewer"),
        c.name
    );
    if !failed.is_empty() {
        bail!(
            "{} could not be sent (above); `recert campaign remind {}` again sends all of them",
            plural(failed.len(), "reminder"),
            c.name
        );
    }
    Ok(())
}

pub fn status(g: &Globals, name: &str, format: Format) -> Result<()> {
    let store = Store::open(&g.paths.store)?;
    let c = store.campaign(name)?;
    let items = store.campaign_items(c.id)?;
    let signs = store.sign_offs(c.id)?;
    let signed: Vec<String> = signs.iter().map(|s| s.reviewer.clone()).collect();
    // Group queues are signed off by their members: read the directory only when it matters.
    let groups = if !signs.is_empty() && items.iter().any(|i| i.assigned.starts_with("group:")) {
        people_of(&store, &g.config()?, &c)?.groups
    } else {
        Default::default()
    };
    let q = queues(&items, &signed, &groups);
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut recs: BTreeMap<String, usize> = BTreeMap::new();
    let mut changes: BTreeMap<&str, usize> = BTreeMap::new();
    for i in &items {
        *outcomes
            .entry(i.outcome.as_deref().unwrap_or("undecided"))
            .or_default() += 1;
        if let Some(r) = &i.item.recommendation {
            *recs
                .entry(format!("{} ({})", r.verdict.as_str(), r.rule))
                .or_default() += 1;
        }
        if let Some(ch) = i.item.change {
            *changes.entry(ch.as_str()).or_default() += 1;
        }
    }
    let removed = match &c.since {
        Some(s) => {
            let e = store.earlier(store.campaign(s)?.id)?;
            let its: Vec<_> = items.iter().map(|i| i.item.clone()).collect();
            camp::removed_since(&its, &e).len()
        }
        None => 0,
    };
    if format == Format::Json {
        println!(
            "{}",
            crate::model::text::json_pretty(&serde_json::json!({
                "campaign": c,
                "items": items.len(),
                "outcomes": outcomes,
                "queues": q,
                "recommendations": recs,
                "changes": changes,
                "removed_since": removed,
                "sign_offs": signs,
            }))?
        );
        return Ok(());
    }
    let done = items.iter().filter(|i| i.decided()).count();
    println!(
        "campaign {} · snapshot #{} · {} · {done}/{} decided · undecided at close: {}{}",
        sanitize(&c.name),
        c.snapshot_id,
        match (&c.cancelled_by, c.closed_at) {
            (Some(by), _) => format!(
                "cancelled by {by}: {}",
                sanitize(c.cancel_reason.as_deref().unwrap_or(""))
            ),
            (None, Some(_)) => format!("closed by {}", c.closed_by.as_deref().unwrap_or("?")),
            (None, None) => due_text(&c.due),
        },
        items.len(),
        c.on_close.as_str(),
        c.since
            .as_deref()
            .map(|s| format!(" · since {s}"))
            .unwrap_or_default()
    );
    let head = ["REVIEWER", "ITEMS", "DECIDED", "STAGED", "SIGNED OFF"].map(String::from);
    let lines = q.iter().map(|(r, x)| {
        [
            r.clone(),
            x.items.to_string(),
            x.decided.to_string(),
            x.staged.to_string(),
            match x.signed_off_by.as_slice() {
                [] => "no".to_string(),
                [one] if one == r => "yes".to_string(),
                by => format!("yes ({})", by.join(", ")),
            },
        ]
    });
    print!(
        "\n{}",
        crate::model::text::columns(std::iter::once(head).chain(lines), &[1, 2, 3])
    );
    println!("\noutcomes: {}", kv(&outcomes));
    if !recs.is_empty() {
        println!("recommendations: {}", kv(&recs));
    }
    if c.since.is_some() {
        println!(
            "changes since {}: {}, removed={removed}",
            c.since.as_deref().unwrap_or(""),
            kv(&changes)
        );
    }
    Ok(())
}

fn kv<K: std::fmt::Display>(m: &BTreeMap<K, usize>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The people of the campaign's snapshot: who belongs to which reviewer group.
fn people_of(store: &Store, cfg: &Config, c: &Campaign) -> Result<People> {
    let snap = store.snapshot(c.snapshot_id)?;
    let dir = Directory::new(&snap.data.people, &cfg.rules);
    Ok(People::new(&snap.data.people, &dir))
}

/// Everything a reviewer's command starts from.
struct Reviewing {
    cfg: Config,
    store: Store,
    c: Campaign,
    all: Vec<CampaignItem>,
    people: People,
    /// The acting reviewer, normalised.
    who: String,
}

/// Open the store on campaign `name` for the reviewer `who` (default: the configured one);
/// refused in read-only mode, since every such command writes.
fn reviewing(g: &Globals, name: &str, who: Option<String>, what: &str) -> Result<Reviewing> {
    let cfg = g.config()?;
    refuse_read_only(g, &cfg, what)?;
    let store = Store::open(&g.paths.store)?;
    let c = store.campaign(name)?;
    c.refuse_if_final()
        .map_err(anyhow::Error::msg)
        .context(what.to_string())?;
    let all = store.campaign_items(c.id)?;
    let people = people_of(&store, &cfg, &c)?;
    let who = acting_as(g, &cfg, who)?;
    Ok(Reviewing {
        cfg,
        store,
        c,
        all,
        people,
        who,
    })
}

/// Which items a command means: `--item 3,7`, else (with `all`) every item of the queue.
fn pick(queue: &[&CampaignItem], seqs: &[i64], all: bool, what: &str) -> Result<Vec<i64>> {
    if seqs.is_empty() && !all {
        bail!("{what}: name items with --item N[,N…] or take the whole queue with --all");
    }
    if all {
        return Ok(queue.iter().map(|i| i.item.seq).collect());
    }
    for s in seqs {
        if !queue.iter().any(|i| i.item.seq == *s) {
            bail!(
                "{what}: item {s} is not in your queue (`recert campaign items NAME --as EMAIL` lists it)"
            );
        }
    }
    Ok(seqs.to_vec())
}

/// The items `who` may act on: assigned to them or to a group they are in, not decided, and not
/// locked by their sign-off.
fn my_queue<'a>(
    store: &Store,
    c: &Campaign,
    items: &'a [CampaignItem],
    people: &People,
    who: &str,
) -> Result<Vec<&'a CampaignItem>> {
    if store.sign_offs(c.id)?.iter().any(|s| s.reviewer == who) {
        bail!(
            "{who} has signed off campaign {}: their decisions are locked",
            c.name
        );
    }
    Ok(items
        .iter()
        .filter(|i| people.acts_as(who, &i.assigned))
        .collect())
}

pub struct ItemsArgs {
    pub reviewer: Option<String>,
    pub changed: bool,
    pub format: Format,
}

pub fn items(g: &Globals, name: &str, a: ItemsArgs) -> Result<()> {
    let cfg = g.config()?;
    let store = Store::open(&g.paths.store)?;
    let c = store.campaign(name)?;
    let all = store.campaign_items(c.id)?;
    let people = people_of(&store, &cfg, &c)?;
    let shown: Vec<&CampaignItem> = all
        .iter()
        .filter(|i| {
            a.reviewer
                .as_deref()
                .is_none_or(|r| people.acts_as(r, &i.assigned))
        })
        .filter(|i| !a.changed || i.item.change.is_some_and(|c| c != Change::Unchanged))
        .collect();
    match a.format {
        Format::Json => println!("{}", crate::model::text::json_pretty(&shown)?),
        Format::Csv => {
            let rows = shown.iter().map(|i| {
                let it = &i.item;
                [
                    it.seq.to_string(),
                    i.assigned.clone(),
                    it.target.provider.clone(),
                    it.target.kind.clone(),
                    it.target.id.clone(),
                    it.person.clone().unwrap_or_default(),
                    it.resource.clone().unwrap_or_default(),
                    it.role.clone().unwrap_or_default(),
                    it.recommendation
                        .as_ref()
                        .map(|r| format!("{} ({})", r.verdict.as_str(), r.rule))
                        .unwrap_or_default(),
                    it.change
                        .map(|c| c.as_str().to_string())
                        .unwrap_or_default(),
                    it.carried
                        .map(|v| v.as_str().to_string())
                        .unwrap_or_default(),
                    i.staged
                        .as_ref()
                        .map(|s| s.verdict.as_str().to_string())
                        .unwrap_or_default(),
                    i.outcome.clone().unwrap_or_default(),
                ]
            });
            let out = crate::model::text::csv(
                &[
                    "seq",
                    "reviewer",
                    "provider",
                    "kind",
                    "id",
                    "person",
                    "resource",
                    "role",
                    "recommendation",
                    "change",
                    "carried",
                    "staged",
                    "outcome",
                ],
                rows,
            );
            print!("{out}");
        }
        Format::Table => {
            let head = [
                "#",
                "PROVIDER",
                "PERSON",
                "WHAT",
                "REVIEWER",
                "RECOMMEND",
                "STATE",
            ]
            .map(String::from);
            let rows = shown.iter().map(|i| {
                let it = &i.item;
                // A membership or role by what it grants where; a key or service account by
                // its own label (its name, not only its kind).
                let what = match &it.role {
                    Some(role) => format!("{role} {}", it.resource.as_deref().unwrap_or("")),
                    None => it.label.clone(),
                };
                [
                    it.seq.to_string(),
                    it.target.provider.to_string(),
                    it.person.clone().unwrap_or_else(|| "-".into()),
                    what,
                    i.assigned.clone(),
                    it.recommendation
                        .as_ref()
                        .map(|r| r.verdict.as_str())
                        .unwrap_or("-")
                        .to_string(),
                    format!(
                        "{}{}",
                        i.state_label(),
                        it.change
                            .filter(|c| *c != Change::Unchanged)
                            .map(|c| format!(" [{}]", c.as_str()))
                            .unwrap_or_default()
                    ),
                ]
            });
            print!(
                "{}",
                crate::model::text::columns(std::iter::once(head).chain(rows), &[0])
            );
            println!("{}", plural(shown.len(), "item"));
        }
    }
    Ok(())
}

pub struct DecideArgs {
    pub reviewer: Option<String>,
    pub items: Vec<i64>,
    pub all: bool,
    /// Stage each item's own recommendation (items without one are left).
    pub recommended: bool,
    pub verdict: Option<Verdict>,
    pub owner: Option<String>,
    pub until: Option<String>,
    pub reason: Option<String>,
}

/// Stage decisions in the reviewer's queue; `campaign submit` makes them decisions.
pub fn decide(g: &Globals, name: &str, a: DecideArgs) -> Result<()> {
    let Reviewing {
        cfg,
        mut store,
        c,
        all,
        people,
        who,
    } = reviewing(g, name, a.reviewer.clone(), "campaign decide")?;
    let queue: Vec<&CampaignItem> = my_queue(&store, &c, &all, &people, &who)?
        .into_iter()
        .filter(|i| !i.decided())
        .collect();
    let seqs = pick(&queue, &a.items, a.all || a.recommended, "campaign decide")?;
    if a.verdict.is_none() && !a.recommended {
        bail!("campaign decide: give --verdict certify|revoke|reassign|defer, or --recommended");
    }
    let reason = a.reason.clone().filter(|r| !r.trim().is_empty());
    if reason.is_none()
        && !a.recommended
        && cfg.settings.justification == crate::config::Justification::Required
    {
        bail!(
            "campaign decide: a justification is required (--reason \"...\"; settings.justification = \"optional\" turns this off)"
        );
    }
    let until = match (&a.verdict, &a.until) {
        (Some(Verdict::Defer), Some(u)) => Some(
            crate::review::parse_until(u, today())
                .map_err(|e| anyhow::anyhow!("--until {e}"))?
                .to_string(),
        ),
        (Some(Verdict::Defer), None) => bail!("a deferral needs --until YYYY-MM-DD or +30d"),
        _ => None,
    };
    if a.verdict == Some(Verdict::Reassign) && a.owner.is_none() {
        bail!("a reassign needs --owner EMAIL");
    }
    let by_seq: HashMap<i64, &CampaignItem> = queue.iter().map(|i| (i.item.seq, *i)).collect();
    let mut staged = Vec::new();
    for s in seqs {
        let it = &by_seq[&s].item;
        let verdict = match (a.verdict, &it.recommendation) {
            (Some(v), _) => v,
            (None, Some(r)) => r.verdict,
            (None, None) => continue,
        };
        let justification = match (&reason, a.verdict, &it.recommendation) {
            (Some(r), _, _) => Some(r.clone()),
            (None, None, Some(rec)) => {
                Some(format!("recommendation {}: {}", rec.rule, rec.evidence))
            }
            _ => None,
        };
        staged.push((
            s,
            Some(NewDecision {
                verdict,
                target: it.target.clone(),
                label: it.label.clone(),
                rule: Some("scim-uncovered-grant".into()),
                owner: a.owner.clone(),
                until: until.clone(),
                justification,
            }),
        ));
    }
    let n = store.stage(c.id, &staged, now())?;
    println!(
        "staged {} for {who} in {}; `recert campaign submit {} --as {who}` records them",
        plural(n, "decision"),
        c.name,
        c.name
    );
    Ok(())
}

/// Show what the reviewer's staged batch holds, ask, and submit it as one logged batch.
pub fn submit(g: &Globals, name: &str, who: Option<String>, yes: bool) -> Result<()> {
    let Reviewing {
        cfg,
        mut store,
        c,
        all,
        people,
        who,
    } = reviewing(g, name, who, "campaign submit")?;
    let queue = my_queue(&store, &c, &all, &people, &who)?;
    let staged: Vec<&CampaignItem> = queue
        .into_iter()
        .filter(|i| !i.decided() && i.staged.is_some())
        .collect();
    if staged.is_empty() {
        bail!(
            "nothing staged for {who} in {}: stage decisions first (`recert campaign decide` or the console)",
            c.name
        );
    }
    let mut verdicts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut carried = 0;
    for i in &staged {
        *verdicts
            .entry(i.staged.as_ref().map(|s| s.verdict.as_str()).unwrap_or("?"))
            .or_default() += 1;
        carried += i.item.carried.is_some() as usize;
    }
    eprintln!(
        "{who} submits {} in {}: {}{}",
        plural(staged.len(), "decision"),
        c.name,
        kv(&verdicts),
        if carried > 0 {
            format!(" ({carried} carried forward)")
        } else {
            String::new()
        }
    );
    if !yes
        && !super::confirm(
            staged.len(),
            cfg.settings.confirm_threshold.unwrap_or(25),
            "",
            &format!("submit {}", plural(staged.len(), "decision")),
        )?
    {
        bail!("not submitted; the decisions stay staged");
    }
    let seqs: Vec<i64> = staged.iter().map(|i| i.item.seq).collect();
    let (batch, n) = store.submit(c.id, &seqs, &who, c.snapshot_id, now())?;
    println!(
        "submitted batch {batch}: {}, audited",
        plural(n, "decision")
    );
    Ok(())
}

pub struct DelegateArgs {
    pub reviewer: Option<String>,
    pub to: String,
    pub items: Vec<i64>,
    pub all: bool,
    pub reason: String,
    pub force: bool,
}

pub fn delegate(g: &Globals, name: &str, a: DelegateArgs) -> Result<()> {
    let to = a.to.trim();
    let Reviewing {
        cfg: _,
        mut store,
        c,
        all,
        people,
        who,
    } = reviewing(g, name, a.reviewer.clone(), "campaign delegate")?;
    let queue: Vec<&CampaignItem> = my_queue(&store, &c, &all, &people, &who)?
        .into_iter()
        .filter(|i| !i.decided())
        .collect();
    let seqs = pick(&queue, &a.items, a.all, "campaign delegate")?;
    let (to, n) = crate::engine::campaign::delegate(
        &mut store,
        crate::engine::campaign::Delegation {
            campaign: &c,
            items: &all,
            people: &people,
            from: &who,
            to,
            seqs: &seqs,
            reason: &a.reason,
            force: a.force,
        },
        now(),
    )
    .context("campaign delegate")?;
    println!(
        "delegated {} of {} from {who} to {to}, audited",
        plural(n, "item"),
        c.name
    );
    Ok(())
}

pub fn sign_off(g: &Globals, name: &str, who: Option<String>, incomplete: bool) -> Result<()> {
    let Reviewing {
        cfg: _,
        mut store,
        c,
        all,
        people,
        who,
    } = reviewing(g, name, who, "campaign signoff")?;
    let queue = my_queue(&store, &c, &all, &people, &who)?;
    if queue.is_empty() {
        bail!("{who} has no items in {}", c.name);
    }
    let decided = queue.iter().filter(|i| i.decided()).count();
    let staged = queue
        .iter()
        .filter(|i| !i.decided() && i.staged.is_some())
        .count();
    if staged > 0 {
        bail!(
            "{who} has {staged} staged decisions not submitted: submit them (`recert campaign submit {}`) before signing off",
            c.name
        );
    }
    let open = queue.len() - decided;
    if open > 0 && !incomplete {
        bail!(
            "{open} of {who}'s {} items are undecided: decide them, or sign off anyway with --incomplete (they then fall to the closing policy: {})",
            queue.len(),
            c.on_close.as_str()
        );
    }
    let counts = crate::review::campaign::sign_off_counts(&queue);
    store.sign_off(c.id, &who, &counts, now())?;
    println!(
        "{who} signed off {}: {decided}/{} decided; their decisions are locked",
        c.name,
        queue.len()
    );
    Ok(())
}

pub fn close(g: &Globals, name: &str, yes: bool) -> Result<()> {
    let cfg = g.config()?;
    refuse_read_only(g, &cfg, "campaign close")?;
    let mut store = Store::open(&g.paths.store)?;
    let c = store.campaign(name)?;
    let all = store.campaign_items(c.id)?;
    let undecided = all.iter().filter(|i| !i.decided()).count();
    let staged = all
        .iter()
        .filter(|i| !i.decided() && i.staged.is_some())
        .count();
    let becomes = match c.on_close {
        OnClose::Revoke => {
            "revoke decisions (closing sends nothing: `recert plan` then shows the calls and `recert apply` sends them)"
        }
        OnClose::Certify => "certify decisions (recorded; no provider call)",
        OnClose::NoChange => "no-change (recorded; no decision, no provider call)",
    };
    eprintln!(
        "closing {} makes its decisions final: {} become {becomes}{}",
        c.name,
        plural(undecided, "undecided item"),
        if staged > 0 {
            format!(
                " ({} staged but never submitted: those stagings are dropped)",
                plural(staged, "item")
            )
        } else {
            String::new()
        }
    );
    if !yes
        && undecided > 0
        && !super::confirm(
            undecided,
            cfg.settings.confirm_threshold.unwrap_or(25),
            "",
            &format!(
                "close {} and decide {} by its policy",
                c.name,
                plural(undecided, "item")
            ),
        )?
    {
        bail!("not closed");
    }
    let actor = acting_as(g, &cfg, None)?;
    let n = store.close_campaign(c.id, &actor, c.snapshot_id, now())?;
    let next = if c.on_close == OnClose::Revoke && n > 0 {
        "; `recert plan` shows the revokes, `recert apply` sends them"
    } else {
        ""
    };
    println!(
        "closed {}: {} by the closing policy ({}), audited{next}",
        c.name,
        plural(n, "item"),
        c.on_close.as_str()
    );
    Ok(())
}

/// `recert campaign cancel NAME --reason TEXT`: withdraw a campaign started by mistake. Its
/// record stays (marked cancelled, audited); staged decisions are dropped and submitted ones
/// withdrawn, so nothing of it is ever applied. Only its creator may cancel it.
pub fn cancel(g: &Globals, name: &str, reason: &str, yes: bool) -> Result<()> {
    let cfg = g.config()?;
    refuse_read_only(g, &cfg, "campaign cancel")?;
    let mut store = Store::open(&g.paths.store)?;
    let c = store.campaign(name)?;
    c.refuse_if_final()
        .map_err(anyhow::Error::msg)
        .context("campaign cancel")?;
    if reason.trim().is_empty() {
        bail!("campaign cancel: say why (--reason \"...\")");
    }
    let actor = acting_as(g, &cfg, None)?;
    if crate::model::normalize_email(&actor) != crate::model::normalize_email(&c.created_by) {
        bail!(
            "only {} (who created {}) can cancel it; you are {actor}",
            c.created_by,
            c.name
        );
    }
    let decided = store
        .campaign_items(c.id)?
        .iter()
        .filter(|i| i.decided())
        .count();
    eprintln!(
        "cancelling {} withdraws it: staged decisions are dropped, {} withdrawn (a call not yet sent for them never will be; one already made stays made); the campaign and its audit trail stay",
        c.name,
        plural(decided, "submitted decision")
    );
    if !yes && !super::confirm(1, 25, "", &format!("cancel {}", c.name))? {
        bail!("not cancelled");
    }
    let done = store.cancel_campaign(c.id, &actor, reason, now())?;
    println!(
        "cancelled {}: {} dropped, {} withdrawn, audited",
        c.name,
        plural(done.staged, "staged decision"),
        plural(done.decisions, "submitted decision")
    );
    Ok(())
}

pub fn report(g: &Globals, name: &str, out: &Path) -> Result<()> {
    use crate::audit::{evidence, report};
    let cfg = g.config()?;
    let store = Store::open(&g.paths.store)?;
    let c = store.campaign(name)?;
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        bail!(
            "{} is not empty: give a new or empty directory, so the report holds only its own files",
            out.display()
        );
    }
    let items = store.campaign_items(c.id)?;
    let decisions: HashMap<i64, crate::review::Decision> =
        store.decisions()?.into_iter().map(|d| (d.id, d)).collect();
    let results = store.decision_results()?;
    let sign_offs = store.sign_offs(c.id)?;
    let delegations = store.delegations(c.id)?;
    let (_, chain) = store.verify_audit(None)?;
    let r = report::Report {
        campaign: &c,
        items: &items,
        decisions: &decisions,
        results: &results,
        sign_offs: &sign_offs,
        delegations: &delegations,
        chain,
        generated_at: now(),
        generated_by: acting_as(g, &cfg, None)?,
    };
    let files = report::files(&r);
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for (n, bytes) in &files {
        std::fs::write(out.join(n), bytes)
            .with_context(|| format!("cannot write {}", out.join(n).display()))?;
    }
    std::fs::write(out.join("manifest.sha256"), evidence::manifest(&files))?;
    let totals = report::totals(&report::lines(&r));
    println!(
        "wrote {} files to {}: {} items ({}); check with: cd {} && sha256sum -c manifest.sha256",
        files.len() + 1,
        out.display(),
        items.len(),
        kv(&totals),
        out.display()
    );
    if let Err(b) = &r.chain {
        bail!("the report was written, but the audit chain is broken: {b}");
    }
    Ok(())
}

/// `recert review --campaign NAME [--as EMAIL]`: the console on that reviewer's queue.
pub fn review(g: &Globals, name: &str, who: Option<String>) -> Result<()> {
    let cfg = g.config()?;
    let store = Store::open(&g.paths.store)?;
    let c = store.campaign(name)?;
    let who = acting_as(g, &cfg, who)?;
    let people = people_of(&store, &cfg, &c)?;
    if let Some(group) = who.strip_prefix("group:") {
        // Only the active ones can review.
        let mut members: Vec<&String> = people
            .groups
            .get(group)
            .map(|m| {
                m.iter()
                    .filter(|e| people.get(Some(e)).is_some_and(|h| h.active))
                    .collect()
            })
            .unwrap_or_default();
        members.sort();
        let some: Vec<&str> = members.iter().take(5).map(|m| m.as_str()).collect();
        bail!(
            "{who} is a group: its members review its items, each with their own email (`recert review --campaign {} --as EMAIL`); members: {}{}",
            c.name,
            if some.is_empty() {
                "none in the campaign's snapshot".to_string()
            } else {
                some.join(", ")
            },
            if members.len() > 5 {
                format!(" and {} more", members.len() - 5)
            } else {
                String::new()
            }
        );
    }
    let groups: Vec<String> = people
        .groups
        .iter()
        .filter(|(_, members)| members.contains(&who))
        .map(|(g, _)| g.clone())
        .collect();
    let mine = store
        .campaign_items(c.id)?
        .iter()
        .filter(|i| people.acts_as(&who, &i.assigned))
        .count();
    if mine == 0 {
        bail!(
            "{who} has nothing to review in {}: `recert campaign status {}` shows who does (pass --as EMAIL)",
            c.name,
            c.name
        );
    }
    let snap = store.latest_header()?.ok_or_else(|| no_snapshot(g))?;
    drop(store);
    let keys: crate::tui::Keys = std::sync::Arc::new(crate::config::resolve_key);
    let mut opts = super::console::tui_options(g, &cfg, &snap, Some(keys))?;
    drop(snap);
    opts.reviewer = who.clone();
    opts.campaign = Some(crate::tui::CampaignQueue {
        id: c.id,
        name: c.name.clone(),
        due: c.due.clone(),
        snapshot_id: c.snapshot_id,
        reviewer: who,
        groups,
        people: std::sync::Arc::new(people),
    });
    crate::tui::run(opts)
}
