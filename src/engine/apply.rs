//! Applying a plan, as both front ends do it: the guard against a second plan while one is
//! unfinished, the plan stored, one client per source it calls, the run (journaled, one
//! applier per plan) and the summary it ends with.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use anyhow::Result;

use crate::config::{Config, ConfigError, SourceConfig};
use crate::connectors::http::Http;
use crate::model::Ts;
use crate::remediate::apply::{OnItem, Outcome};
use crate::remediate::{JournalRow, PlannedStep};
use crate::secret::Secret;
use crate::store::Store;

/// Nothing new is planned while a plan has calls not done: say which and how to finish it.
/// `then` names what the person was about to do ("anything new is planned", "revoke").
pub fn guard(store: &Store, then: &str) -> Result<()> {
    match open_plan(store, then)? {
        Some(why) => anyhow::bail!("{why}; nothing was sent"),
        None => Ok(()),
    }
}

/// The plan with calls not done, if any, and how it is finished before `then`: another run
/// sending it now (who), or one interrupted or with failed calls (`--resume`, `--abandon`).
/// What `guard` refuses with and what `recert plan` says beside "nothing to plan".
pub fn open_plan(store: &Store, then: &str) -> Result<Option<String>> {
    let Some(p) = store.unfinished_plan()? else {
        return Ok(None);
    };
    // Not done because another run is sending it now: say who, not that one was cut off.
    if let Some(holder) = store.plan_lock(p)? {
        return Ok(Some(format!(
            "{holder}: wait for it to finish before {then} (a run killed on that machine is taken over by `recert apply --resume` there)"
        )));
    }
    let open = store
        .journal(p)?
        .iter()
        .filter(|r| r.state.is_open())
        .count();
    Ok(Some(format!(
        "plan #{p} has {} not done (a run was interrupted or some failed): `recert apply --resume` finishes it before {then} (or `recert apply --abandon --reason TEXT` gives up calls a provider will never accept)",
        crate::model::text::plural(open, "call")
    )))
}

/// The newest plan with rows not done (pending, sent without an answer, or failed) and how
/// many: what `guard` refuses to plan past and what `recert apply --resume` (and the console's
/// `:apply`) finishes first.
pub fn unfinished(journal: &[JournalRow]) -> Option<(i64, usize)> {
    let open = |r: &&JournalRow| r.state.is_open();
    let plan = journal.iter().filter(open).map(|r| r.plan).max()?;
    Some((
        plan,
        journal
            .iter()
            .filter(open)
            .filter(|r| r.plan == plan)
            .count(),
    ))
}

/// Every decision some plan covers, read from the journal itself: what plans cover and what
/// they did are then one read, never two that a plan stored between them could straddle.
pub fn planned(journal: &[JournalRow]) -> std::collections::HashSet<i64> {
    journal
        .iter()
        .flat_map(|r| r.decisions.iter().copied())
        .collect()
}

/// The revoke decisions standing (latest per target, not undone) that no plan covers yet.
pub fn standing<'a>(
    decisions: &'a [crate::review::Decision],
    planned: &std::collections::HashSet<i64>,
) -> Vec<&'a crate::review::Decision> {
    crate::review::effective(decisions)
        .into_iter()
        .filter(|d| d.d.verdict == crate::review::Verdict::Revoke && !planned.contains(&d.id))
        .collect()
}

/// What `recert plan`, `recert apply` and the console's `:apply` send: the standing revokes no
/// plan covers, planned against `snap`, calls done since the snapshot not made again, never
/// a call that deletes an admin key recert runs with (`own`).
pub fn pending(
    decisions: &[crate::review::Decision],
    journal: &[JournalRow],
    snap: &crate::model::Snapshot,
    own: &crate::remediate::OwnKeys,
    opts: crate::remediate::PlanOptions,
) -> Vec<PlannedStep> {
    let standing = standing(decisions, &planned(journal));
    let done = crate::remediate::done_calls(journal, snap.taken_at);
    crate::remediate::plan_with(&standing, &snap.data, opts, &done, own)
}

/// Store a new plan, after the guard, under the database's write lock: two front ends (or two
/// processes) planning at once are serialised. The second is refused while the first's plan
/// is unfinished; a call the first finished meanwhile (a plan newer than `known`, the newest
/// plan when these steps were made) becomes "already done" here, so it is never sent twice.
pub fn store_plan(
    store: &mut Store,
    steps: &[PlannedStep],
    known: i64,
    actor: &str,
    snapshot: Option<i64>,
    now: Ts,
) -> Result<i64> {
    // Nothing is journaled into a damaged store (the run checks again before it sends).
    store.check_intact()?;
    Ok(store.create_plan_exclusive(actor, snapshot, now, |s| {
        guard(s, "anything new is planned").map_err(|e| format!("{e:#}"))?;
        let journal = s.all_journal().map_err(|e| format!("{e:#}"))?;
        let mut steps = steps.to_vec();
        crate::remediate::mark_done(&mut steps, &crate::remediate::done_since(&journal, known));
        Ok(steps)
    })?)
}

/// The OpenAI admin keys in `d` that are the keys recert runs with (matched by their
/// redacted head and tail; the key itself is never kept). A source whose key cannot be read
/// contributes nothing.
pub fn own_keys(
    cfg: &Config,
    key_for: KeyFor,
    d: &crate::model::SourceData,
) -> crate::remediate::OwnKeys {
    let mut out = crate::remediate::OwnKeys::new();
    for src in cfg.sources.iter().filter(|s| s.kind == "openai") {
        // No admin key of this source in the data: nothing to match, no key read.
        if !d
            .credentials
            .iter()
            .any(|c| c.source == src.name && c.kind == "admin_key")
        {
            continue;
        }
        let Ok(key) = key_for(src) else { continue };
        for c in d
            .credentials
            .iter()
            .filter(|c| c.source == src.name && c.kind == "admin_key")
        {
            if crate::remediate::key_matches(c, key.expose()) {
                out.insert((c.source.clone(), c.id.clone()));
            }
        }
    }
    out
}

/// How a front end gets a source's key (the keyring or the environment).
pub type KeyFor<'a> = &'a dyn Fn(&SourceConfig) -> Result<Secret, ConfigError>;

/// One client per named source, each with its key.
pub fn clients(
    cfg: &Config,
    key_for: KeyFor,
    sources: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, Arc<Http>>> {
    let mut out = HashMap::new();
    for s in sources {
        if s.is_empty() || out.contains_key(&s) {
            continue;
        }
        let src = cfg.source(&s)?;
        let key = key_for(src)?;
        out.insert(s, Arc::new(crate::connectors::client(src, key)));
    }
    Ok(out)
}

/// The sources a stored plan calls.
pub fn plan_sources(store: &Store, plan: i64) -> Result<BTreeSet<String>> {
    Ok(store
        .journal(plan)?
        .into_iter()
        .filter(|r| r.kind == "call")
        .map(|r| r.source)
        .collect())
}

/// Send a stored plan's open calls (journaled before each is sent; the plan's lock held for
/// the whole run).
pub async fn run(
    store: &std::sync::Mutex<Store>,
    cfg: &Config,
    key_for: KeyFor<'_>,
    plan: i64,
    actor: &str,
    on_item: OnItem<'_>,
) -> Result<Outcome> {
    // Nothing is sent while the journal it must be written to is damaged.
    store.lock().expect("store").check_intact()?;
    let sources = plan_sources(&store.lock().expect("store"), plan)?;
    let clients = clients(cfg, key_for, sources)?;
    let concurrency = cfg.settings.apply_concurrency.unwrap_or(8);
    // A plan stored before the key recert runs with was known (or by an older recert) may
    // still delete it: checked again at the last moment.
    let admin = crate::model::SourceData {
        credentials: store.lock().expect("store").latest_admin_keys()?,
        ..Default::default()
    };
    let spare = crate::remediate::own_key_deletes(&own_keys(cfg, key_for, &admin));
    let out = crate::remediate::apply::execute(
        store,
        plan,
        &clients,
        concurrency,
        actor,
        &spare,
        on_item,
    )
    .await;
    match out {
        Ok(out) => Ok(out),
        Err(s) if !s.started => Err(s.error.into()),
        Err(s) => Err(anyhow::anyhow!(
            "{}. {}",
            s.error,
            stopped_midway(&store.lock().expect("store"), plan)
        )),
    }
}

/// What a responder needs when the store failed in the middle of a run (a full disk, a
/// failing one): how many calls had gone out, and how the plan is finished. From the journal,
/// which was written before each call went out; reading still works when writing does not.
fn stopped_midway(store: &Store, plan: i64) -> String {
    let resume = "once the store can be written again, `recert apply --resume` finishes it (a call whose answer was not recorded is read back from the provider before anything is sent again)";
    match store.journal(plan) {
        Ok(rows) => {
            let calls: Vec<&JournalRow> = rows.iter().filter(|r| r.kind == "call").collect();
            let out = calls.iter().filter(|r| r.state.went_out()).count();
            format!(
                "Plan #{plan} stopped: {out} of its {} had gone out (the answers to the last of them may not be recorded); {resume}",
                crate::model::text::plural(calls.len(), "call")
            )
        }
        Err(_) => format!(
            "Plan #{plan} stopped, and its journal cannot be read to say which calls had gone out; {resume}"
        ),
    }
}

/// The summary every front end shows after a run: the counts, then what a person must do by
/// hand, then each failure (provider text sanitized).
pub fn summary(plan: i64, out: &Outcome) -> Vec<String> {
    let line = |r: &JournalRow| crate::model::text::sanitize(&r.line()).into_owned();
    // Failures first: a line cut at the edge of a toast or a terminal never hides them.
    let failed = match out.failed.len() {
        0 => String::new(),
        n => format!("{} FAILED (below), ", crate::model::text::plural(n, "call")),
    };
    let mut lines = vec![format!(
        "plan #{plan}: {failed}{} done now, {} done before, {}, {} recorded without a call",
        crate::model::text::plural(out.done, "call"),
        out.already_done,
        crate::model::text::plural(out.manual.len(), "manual step"),
        out.recorded
    )];
    lines.extend(
        out.manual
            .iter()
            .map(|r| format!("  to do by hand: {}", line(r))),
    );
    lines.extend(out.spared.iter().map(|r| {
        format!(
            "  not sent #{}: {}: it deletes the admin key recert itself uses; give recert a new admin key (`recert login {}`), then revoke this one again",
            r.seq,
            line(r),
            crate::model::text::sanitize(&r.source)
        )
    }));
    lines.extend(out.withdrawn.iter().map(|r| {
        format!(
            "  not sent #{}: {}: its decisions were withdrawn (undone, or the campaign cancelled); abandoned, audited",
            r.seq,
            line(r)
        )
    }));
    lines.extend(out.rechecked.iter().map(|(r, why)| {
        format!(
            "  #{}: {}: {}",
            r.seq,
            line(r),
            crate::model::text::sanitize(why)
        )
    }));
    lines.extend(out.failed.iter().map(|(r, why)| {
        format!(
            "  FAILED #{}: {}: {}",
            r.seq,
            line(r),
            crate::model::text::sanitize(why)
        )
    }));
    lines
}
