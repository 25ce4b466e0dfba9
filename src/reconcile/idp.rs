//! The rules that read what an identity provider says beyond who a person is (Okta, Entra):
//! which of the AI platforms' apps it assigns them, whether its provisioning push reached the
//! platform, their leave date and their last sign-in. Each judges one provider account, and
//! makes no judgement where the directory could not say (an app whose assignments were not
//! read, or that anyone may use; a tenant that does not report sign-ins).

use std::collections::HashMap;

use super::{Context, DAY, Directory, Standing, arc, day, finding, provider_label};
use crate::model::{Account, AppAccess, Finding, IdpApp, Person, SourceData, Ts};

/// `outside-idp`, `failed-deprovision`, `upcoming-leaver` and `dormant-sign-in`, per account.
pub(super) fn rules(dir: &Directory, d: &SourceData, cx: &Context, out: &mut Vec<Finding>) {
    let apps: HashMap<(&str, &str), &IdpApp> = d
        .apps
        .iter()
        .map(|a| ((a.source.as_str(), a.app_source.as_str()), a))
        .collect();
    let access: HashMap<(&str, &str, &str), &AppAccess> = d
        .app_access
        .iter()
        .map(|a| {
            (
                (
                    a.source.as_str(),
                    a.person_id.as_str(),
                    a.app_source.as_str(),
                ),
                a,
            )
        })
        .collect();
    let interesting = !apps.is_empty()
        || d.people
            .iter()
            .any(|p| p.signals.sign_in_known || p.signals.leave_at.is_some());
    if !interesting {
        return;
    }
    for a in &d.accounts {
        let standing = dir.standing(a.email.as_deref());
        if matches!(standing, Standing::Unknown | Standing::Ambiguous(_)) {
            continue;
        }
        let people = dir.people(a.email.as_deref().unwrap_or_default());
        let f = |rule: &str, detail: String| {
            finding(
                rule,
                &a.provider,
                &a.source,
                "account",
                a.id.clone(),
                arc(&a.email),
                detail,
            )
        };
        let on = on_provider(a);
        let failed = pushed(people, a, &apps, &access, cx.now);
        let removed = failed.is_some();
        if let Some(detail) = failed {
            out.push(f("failed-deprovision", format!("{detail}; {on}")));
        }
        if standing != Standing::Current {
            // A leaver's access is `leaver-with-access` already.
            continue;
        }
        // Unassigned because the IdP removed them, and that removal did not land: one cause,
        // said once (`failed-deprovision`), not a second high finding beside it.
        if !removed && let Some(detail) = unassigned(people, a, &apps, &access) {
            out.push(f("outside-idp", format!("{detail}; {on}")));
        }
        if let Some(detail) = leaving(people, cx) {
            out.push(f(
                "upcoming-leaver",
                format!("{detail}, still {on}: pre-stage the revokes"),
            ));
        }
        if let Some(detail) = quiet(people, cx) {
            out.push(f("dormant-sign-in", format!("{detail}, yet {on}")));
        }
    }
}

/// "holds an account on OpenAI, role owner".
fn on_provider(a: &Account) -> String {
    let role = a
        .role
        .as_deref()
        .map(|r| format!(", role {r}"))
        .unwrap_or_default();
    format!("holds an account on {}{role}", provider_label(&a.provider))
}

fn app_name(app: &IdpApp) -> &str {
    app.name.as_deref().unwrap_or(&app.id)
}

/// `outside-idp`: among the directories whose app for this account's provider source has
/// readable assignments and is an access boundary, none assigns it to the person.
fn unassigned(
    people: &[&Person],
    a: &Account,
    apps: &HashMap<(&str, &str), &IdpApp>,
    access: &HashMap<(&str, &str, &str), &AppAccess>,
) -> Option<String> {
    let mut judged = people.iter().filter_map(|p| {
        let app = apps.get(&(p.source.as_str(), a.source.as_str()))?;
        (app.assignments_known && !app.open).then_some((p, *app))
    });
    let (first, app) = judged.clone().next()?;
    let assigned = judged.any(|(p, _)| {
        access
            .get(&(p.source.as_str(), p.id.as_str(), a.source.as_str()))
            .is_some_and(|x| x.assigned)
    });
    (!assigned).then(|| {
        format!(
            "{} does not assign its app '{}' to this person, directly or through a group",
            first.source,
            app_name(app)
        )
    })
}

/// A removal the identity provider says worked, younger than this, may still be on its way
/// through the platform: not yet "did not land".
const LANDING: i64 = 3_600;

/// `failed-deprovision`: the identity provider's last push to this provider source for the
/// person was a deprovision, and it failed, or it succeeded (an hour or more before the
/// snapshot) and the account is still here. Not when the person is current and assigned the
/// app again (a re-hire, a move back: the removal is history), nor when the person is current
/// and the app's assignments could not be read (it may be), nor for an account made after the
/// push (made again since).
fn pushed(
    people: &[&Person],
    a: &Account,
    apps: &HashMap<(&str, &str), &IdpApp>,
    access: &HashMap<(&str, &str, &str), &AppAccess>,
    now: Ts,
) -> Option<String> {
    let row = |p: &Person| {
        access
            .get(&(p.source.as_str(), p.id.as_str(), a.source.as_str()))
            .copied()
    };
    if people
        .iter()
        .any(|p| p.is_current() && row(p).is_some_and(|x| x.assigned))
    {
        return None;
    }
    people.iter().find_map(|p| {
        let x = row(p)?;
        if x.push_kind.as_deref() != Some("deprovision") {
            return None;
        }
        // Whether a current person is assigned again is unknown when the assignments could
        // not be read: the removal may be history, so no judgement (a leaver's is one anyway).
        let app = apps.get(&(p.source.as_str(), a.source.as_str()));
        if p.is_current() && !app.is_some_and(|app| app.assignments_known) {
            return None;
        }
        if let (Some(made), Some(pushed)) = (a.added_at, x.push_at)
            && made > pushed
        {
            return None;
        }
        let app = app.map(|app| app_name(app)).unwrap_or(&a.source);
        let when = x.push_at.map(|t| format!(" on {}", day(t))).unwrap_or_default();
        let what = x
            .push_detail
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        match x.push_result.as_deref() {
            Some("failure") => Some(format!(
                "{}'s deprovisioning push through '{app}' failed{when}{what}",
                p.source
            )),
            Some("success") if x.push_at.is_none_or(|t| now - t >= LANDING) => Some(format!(
                "{} deprovisioned this person through '{app}'{when}{what}, but the account is still there: the push did not land",
                p.source
            )),
            _ => None,
        }
    })
}

/// `upcoming-leaver`: a current person's leave date is at most `leave_notice_days` away.
fn leaving(people: &[&Person], cx: &Context) -> Option<String> {
    let at = people
        .iter()
        .filter(|p| p.is_current())
        .filter_map(|p| p.signals.leave_at)
        .min()?;
    // Days to go, counting a part day as one: 10.5 days away is "in 11 days".
    let days = (at - cx.now + DAY - 1).div_euclid(DAY);
    if at - cx.now > cx.rules.leave_notice_days * DAY {
        return None;
    }
    Some(if at <= cx.now {
        format!("leave date {} has passed", day(at))
    } else {
        format!("leaves on {} (in {} days)", day(at), days.max(0))
    })
}

/// `dormant-sign-in`: every directory that reports this person's sign-ins has none for more
/// than `dormant_sign_in_days`, or none on record (unless the person is newer than that: a new
/// hire who has not signed in yet).
fn quiet(people: &[&Person], cx: &Context) -> Option<String> {
    let reporting: Vec<&&Person> = people
        .iter()
        .filter(|p| p.is_current() && p.signals.sign_in_known)
        .collect();
    if reporting.is_empty() {
        return None;
    }
    let limit = cx.rules.dormant_sign_in_days * DAY;
    let last = reporting
        .iter()
        .filter_map(|p| Some((p.signals.last_sign_in?, &p.source)))
        .max();
    match last {
        Some((t, source)) if cx.now - t > limit => Some(format!(
            "no sign-in to {source} for {} days (last {})",
            (cx.now - t) / DAY,
            day(t)
        )),
        Some(_) => None,
        None => {
            let new = reporting
                .iter()
                .any(|p| p.signals.created_at.is_some_and(|c| cx.now - c <= limit));
            (!new).then(|| format!("no sign-in to {} on record", reporting[0].source))
        }
    }
}
