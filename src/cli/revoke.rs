//! Incident mode: `recert revoke --key` and `recert revoke --person`.

use super::apply::{confirm_plan, recheck_done, run_plan};
use super::*;

/// What `recert revoke` acts on.
pub enum RevokeWhat {
    /// A key id, redacted form or the whole secret (never echoed).
    Key(String),
    Person(String),
}

/// `recert revoke --key HINT | --person EMAIL`: incident mode. Finds the targets on every
/// provider, shows them, and (after confirmation, or `--yes`) records the revoke decisions,
/// plans and applies them, journaled and audited like any apply.
pub async fn revoke_cmd(
    g: &Globals,
    what: RevokeWhat,
    reason: Option<String>,
    yes: bool,
    recheck: bool,
    opts: crate::remediate::PlanOptions,
) -> Result<()> {
    use crate::review::NewDecision;
    let cfg = g.config()?;
    refuse_read_only(g, &cfg, "revoke")?;
    let mut store = Store::open(&g.paths.store)?;
    engine::apply::guard(&store, "you revoke")?;
    // A key needs only the keys and resources (fast on a large organisation); a person needs all.
    let snap = match &what {
        RevokeWhat::Key(_) => store.latest_keys()?,
        RevokeWhat::Person(_) => store.latest_snapshot()?,
    }
    .ok_or_else(|| no_snapshot(g))?;
    let taken = chrono::DateTime::from_timestamp(snap.taken_at, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let d = &snap.data;
    let mut items: Vec<NewDecision> = Vec::new();
    let (why, shown) = match &what {
        RevokeWhat::Key(hint) => {
            let c = match engine::incident::find_key(d, hint) {
                engine::incident::Found::One(i) => &d.credentials[i],
                engine::incident::Found::None => bail!(
                    "no key in snapshot #{} ({taken}) matches the given hint (an id, a redacted value or the whole key); if the key is newer, run `recert sync` first",
                    snap.id
                ),
                engine::incident::Found::Many(all) => {
                    for &i in &all {
                        let f = engine::incident::KeyFacts::of(d, &d.credentials[i]);
                        eprintln!("  {} {} on {} ({})", f.id, f.redacted, f.source, f.provider);
                    }
                    bail!(
                        "the hint matches {} keys (listed above): give the key id",
                        all.len()
                    );
                }
            };
            for line in engine::incident::KeyFacts::of(d, c).lines() {
                eprintln!("{line}");
            }
            let decision = engine::incident::leaked_key(c);
            // Provider text: the name may hold anything.
            let label = crate::model::text::sanitize(&c.label()).into_owned();
            items.push(decision);
            (format!("incident: leaked key {label}"), label)
        }
        RevokeWhat::Person(email) => {
            let sweep =
                engine::incident::sweep(d, &cfg.rules, email).map_err(anyhow::Error::msg)?;
            if sweep.items.is_empty() {
                bail!(
                    "{email} holds nothing on any provider in snapshot #{} ({taken})",
                    snap.id
                );
            }
            eprintln!(
                "{email}: {}, {}, {} in snapshot #{} ({taken})",
                plural(sweep.accounts, "account"),
                plural(sweep.memberships, "membership"),
                plural(sweep.keys, "usable key"),
                snap.id
            );
            items = sweep.items;
            (
                format!("incident: revoke everything {email} holds"),
                email.clone(),
            )
        }
    };
    let justification = reason.unwrap_or(why);
    for i in &mut items {
        i.justification = Some(justification.clone());
    }
    // The plan, shown before anything is recorded or sent: its decisions have no number yet (0,
    // which the plan's table leaves unnamed).
    let preview: Vec<crate::review::Decision> = items
        .iter()
        .map(|x| crate::review::Decision {
            id: 0,
            batch: 0,
            made_at: 0,
            reviewer: String::new(),
            snapshot_id: None,
            undone: false,
            d: x.clone(),
        })
        .collect();
    let refs: Vec<&crate::review::Decision> = preview.iter().collect();
    let known = store.max_plan_id()?;
    let mut done = crate::remediate::done_calls(&store.all_journal()?, snap.taken_at);
    if recheck {
        recheck_done(&cfg, &refs, d, opts, &mut done).await?;
    }
    let own = engine::apply::own_keys(&cfg, &config::resolve_key, d);
    let steps = crate::remediate::plan_with(&refs, d, opts, &done, &own);
    if crate::remediate::calls(&steps) == 0
        && steps
            .iter()
            .any(|s| s.step.line().starts_with("already done"))
    {
        eprintln!(
            "already revoked: every call was made by an earlier plan (the snapshot still shows the state before it; `recert sync` refreshes it{})",
            if recheck {
                ""
            } else {
                ", `--recheck` proves it with a read"
            }
        );
    }
    if !confirm_plan(&cfg, &steps, yes)? {
        bail!("not confirmed; nothing was recorded or sent");
    }
    let actor = acting_as(g, &cfg, None)?;
    let now = chrono::Utc::now().timestamp();
    let batch = engine::decide::record(&mut store, &items, &actor, Some(snap.id), now)
        .map_err(anyhow::Error::msg)?;
    let recorded: Vec<crate::review::Decision> = store
        .decisions()?
        .into_iter()
        .filter(|x| x.batch == batch)
        .collect();
    let refs: Vec<&crate::review::Decision> = recorded.iter().collect();
    let steps = crate::remediate::plan_with(&refs, d, opts, &done, &own);
    let plan_id = engine::apply::store_plan(&mut store, &steps, known, &actor, Some(snap.id), now)?;
    eprintln!("revoking {shown}: plan #{plan_id}");
    run_plan(&cfg, store, plan_id, &actor).await
}
