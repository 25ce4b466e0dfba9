//! Remediation: `recert plan`, `recert apply` (with `--resume`, `--abandon`).

use super::*;

/// The revoke decisions standing that no plan covers yet, planned against the latest snapshot.
fn pending_plan(
    cfg: &Config,
    store: &Store,
    snap: &Snapshot,
    opts: crate::remediate::PlanOptions,
) -> Result<Vec<crate::remediate::PlannedStep>> {
    let own = engine::apply::own_keys(cfg, &config::resolve_key, &snap.data);
    Ok(engine::apply::pending(
        &store.decisions()?,
        &store.all_journal()?,
        snap,
        &own,
        opts,
    ))
}

fn plan_table(steps: &[crate::remediate::PlannedStep]) -> String {
    let mut out = String::new();
    for (i, p) in steps.iter().enumerate() {
        // A preview's decisions are not recorded yet (id 0): nothing to name.
        let ids: Vec<String> = p
            .decisions
            .iter()
            .filter(|d| **d > 0)
            .map(|d| d.to_string())
            .collect();
        let which = match ids.len() {
            0 => String::new(),
            1 => format!("   [decision {}]", ids[0]),
            _ => format!("   [decisions {}]", ids.join(", ")),
        };
        out.push_str(&format!(
            "{:>5}. {}{which}\n",
            i + 1,
            crate::model::text::sanitize(&p.step.line()),
        ));
    }
    let calls = crate::remediate::calls(steps);
    let manual = steps
        .iter()
        .filter(|p| matches!(p.step, crate::remediate::Step::Manual { .. }))
        .count();
    out.push_str(&format!(
        "{}, {}, {} recorded without a call (covered by another call, already done, or nothing to send)\n",
        plural(calls, "provider call"),
        plural(manual, "manual step"),
        steps.len() - calls - manual
    ));
    out
}

/// `recert plan`: what applying the standing revoke decisions would send, call by call.
pub fn plan_cmd(
    g: &Globals,
    format: Format,
    opts: crate::remediate::PlanOptions,
    manual_only: bool,
) -> Result<()> {
    let store = Store::open(&g.paths.store)?;
    let snap = store.latest_snapshot()?.ok_or_else(|| no_snapshot(g))?;
    let steps = pending_plan(&g.config()?, &store, &snap, opts)?;
    if manual_only {
        return manual::planned(&store, &steps, format);
    }
    // A plan with calls open is never read as "all clear".
    let open = crate::engine::apply::open_plan(&store, "anything new is applied")?;
    match format {
        Format::Json => println!("{}", crate::model::text::json_pretty(&steps)?),
        _ if steps.is_empty() => {
            println!(
                "nothing new to plan: no standing revoke decision that a plan does not already cover"
            );
            if let Some(open) = &open {
                println!("but {open}");
            }
            return Ok(());
        }
        _ => print!("{}", plan_table(&steps)),
    }
    if let Some(open) = open {
        eprintln!("note: {open}");
    }
    Ok(())
}

/// Show the plan, make sure every source it calls has a key, and ask (unless `yes`): whether
/// to go on. Nothing is stored or sent here.
pub(super) fn confirm_plan(
    cfg: &Config,
    steps: &[crate::remediate::PlannedStep],
    yes: bool,
) -> Result<bool> {
    eprint!("{}", plan_table(steps));
    let calls = crate::remediate::calls(steps);
    let sources = crate::remediate::call_sources(steps);
    for s in &sources {
        config::resolve_key(cfg.source(s)?)?;
    }
    let threshold = cfg.settings.confirm_threshold.unwrap_or(25);
    let what = plural(calls, "provider call");
    Ok(calls == 0
        || yes
        || confirm(
            calls,
            threshold,
            &format!("This plan makes {what}."),
            &format!("apply {what}"),
        )?)
}

/// `recert apply [--resume] [--yes]`: plan, confirm, journal, send.
/// `recert apply --abandon --reason TEXT`: give up the unfinished plan's open calls, audited,
/// so one call a provider will never accept does not block every later plan.
pub fn abandon_cmd(g: &Globals, reason: &str) -> Result<()> {
    let cfg = g.config()?;
    refuse_read_only(g, &cfg, "apply --abandon")?;
    if reason.trim().is_empty() {
        bail!("apply --abandon: say why (--reason \"...\")");
    }
    let mut store = Store::open(&g.paths.store)?;
    let Some(plan) = store.unfinished_plan()? else {
        println!("nothing to abandon: every plan is finished");
        return Ok(());
    };
    let rows = store.abandon_plan(
        plan,
        &acting_as(g, &cfg, None)?,
        reason.trim(),
        chrono::Utc::now().timestamp(),
    )?;
    println!(
        "plan #{plan}: {} abandoned, audited",
        plural(rows.len(), "call")
    );
    for r in &rows {
        let unknown = if r.state == crate::remediate::RowState::Sent {
            " (it was sent and never answered: check the provider)"
        } else {
            ""
        };
        println!("  abandoned #{}: {}{unknown}", r.seq, sanitize(&r.line()));
    }
    println!(
        "their decisions stay recorded; `recert revoke` (or new decisions and `recert apply`) tries again"
    );
    Ok(())
}

pub async fn apply_cmd(
    g: &Globals,
    resume: bool,
    yes: bool,
    opts: crate::remediate::PlanOptions,
) -> Result<()> {
    let cfg = g.config()?;
    refuse_read_only(g, &cfg, "apply")?;
    let mut store = Store::open(&g.paths.store)?;
    let actor = acting_as(g, &cfg, None)?;
    let plan_id = if resume {
        match store.unfinished_plan()? {
            Some(p) => {
                eprintln!("resuming plan #{p}");
                p
            }
            None => {
                println!("nothing to resume: every plan is finished");
                return Ok(());
            }
        }
    } else {
        engine::apply::guard(&store, "anything new is planned")?;
        let known = store.max_plan_id()?;
        let snap = store.latest_snapshot()?.ok_or_else(|| no_snapshot(g))?;
        let steps = pending_plan(&cfg, &store, &snap, opts)?;
        if steps.is_empty() {
            println!(
                "nothing to apply: no standing revoke decision that a plan does not already cover"
            );
            return Ok(());
        }
        if !confirm_plan(&cfg, &steps, yes)? {
            bail!("not confirmed; nothing was sent");
        }
        engine::apply::store_plan(
            &mut store,
            &steps,
            known,
            &actor,
            Some(snap.id),
            chrono::Utc::now().timestamp(),
        )?
    };
    run_plan(&cfg, store, plan_id, &actor).await
}

/// `--recheck`: for every call of this plan an earlier plan already made, one read of the
/// provider says whether it took (recorded in `done`, so the plan says so or sends it again).
pub(super) async fn recheck_done(
    cfg: &Config,
    decisions: &[&crate::review::Decision],
    d: &crate::model::SourceData,
    opts: crate::remediate::PlanOptions,
    done: &mut crate::remediate::DoneCalls,
) -> Result<()> {
    let fresh =
        crate::remediate::plan_with(decisions, d, opts, &Default::default(), &Default::default());
    let effects: Vec<crate::remediate::Effect> = fresh
        .iter()
        .filter_map(|p| p.step.effect())
        .filter(|e| done.contains_key(e))
        .collect();
    let clients = engine::apply::clients(
        cfg,
        &config::resolve_key,
        effects.iter().map(|e| e.0.clone()),
    )?;
    for e in effects {
        let Some(http) = clients.get(&e.0) else {
            continue;
        };
        let proof = crate::remediate::recheck::recheck(http, &e).await;
        if let Some(x) = done.get_mut(&e) {
            x.proof = Some(proof);
        }
    }
    Ok(())
}

/// Send a stored plan's open calls, report item by item, then the summary.
pub(super) async fn run_plan(cfg: &Config, store: Store, plan_id: i64, actor: &str) -> Result<()> {
    use crate::remediate::RowState;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let on_item = |n: usize,
                   total: usize,
                   row: &crate::remediate::JournalRow,
                   state: RowState,
                   detail: &str| {
        if state != RowState::Done {
            eprintln!(
                "[{n}/{total}] FAILED {}: {}",
                crate::model::text::sanitize(&row.line()),
                crate::model::text::sanitize(detail)
            );
        } else if tty {
            eprint!(
                "\r\x1b[2K[{n}/{total}] done {}",
                crate::model::text::sanitize(&row.line())
            );
        }
    };
    let store = std::sync::Mutex::new(store);
    let out =
        engine::apply::run(&store, cfg, &config::resolve_key, plan_id, actor, &on_item).await?;
    if tty {
        eprint!("\r\x1b[2K");
    }
    for line in engine::apply::summary(plan_id, &out) {
        println!("{line}");
    }
    if !out.failed.is_empty() {
        bail!(
            "{} failed (listed above); `recert apply --resume` retries them",
            plural(out.failed.len(), "call")
        );
    }
    Ok(())
}
