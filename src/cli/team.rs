//! Team mode: `recert team init` (the roles, grants and row-level security, printed for a DBA
//! to read, then applied when confirmed) and `recert team add-reviewer` (a login role for a
//! person, mapped to them). Both run as the DBA's role, on the PostgreSQL store.

use super::*;

fn postgres(g: &Globals) -> Result<Store> {
    if g.paths.store.dir().is_some() {
        bail!(
            "team mode needs the store on PostgreSQL: give --database postgres://USER@HOST:PORT/DB or set RECERT_DATABASE_URL (README: Team mode)"
        );
    }
    Ok(Store::open(&g.paths.store)?)
}

/// `recert team init [--yes]`: print the SQL; apply it when confirmed.
pub fn team_init(g: &Globals, yes: bool) -> Result<()> {
    let mut store = postgres(g)?;
    let sql = crate::store::team::init_sql();
    println!("{sql}");
    if !yes
        && !confirm(
            1,
            1,
            &format!("This is what team mode applies to {}.", g.paths.store),
            "apply it",
        )?
    {
        eprintln!("recert: nothing applied");
        return Ok(());
    }
    store.team_init()?;
    eprintln!(
        "recert: team mode is set up on {}: add reviewers with `recert team add-reviewer EMAIL`",
        g.paths.store
    );
    Ok(())
}

/// `recert team add-reviewer EMAIL [--owner]` and `recert team add-service NAME --role R`: a
/// login role (its password typed, or read from `--password-env VAR`).
pub fn add_member(
    g: &Globals,
    name: &str,
    member: crate::store::team::Member,
    password_env: Option<&str>,
) -> Result<()> {
    use crate::store::team::Member;
    let mut store = postgres(g)?;
    let password = match password_env {
        Some(var) => std::env::var(var)
            .ok()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| anyhow::anyhow!("{var} is not set: export it with the new password"))?,
        None => rpassword::prompt_password(format!(
            "password for the database role {}: ",
            sanitize(name)
        ))?,
    };
    if password.chars().count() < 12 {
        bail!("the password is too short: give at least 12 characters");
    }
    let role = store.add_member(
        name,
        &Secret::new(password),
        member,
        chrono::Utc::now().timestamp(),
    )?;
    let what = match member {
        Member::Reviewer { owner: true } => "a reviewer and campaign owner",
        Member::Reviewer { owner: false } => "a reviewer",
        Member::Syncer => "the syncer",
        Member::Applier => "the applier",
    };
    eprintln!(
        "recert: the database role \"{}\" is {what}; it runs recert with --database postgres://{}@HOST:PORT/DB and its password in PGPASSWORD or ~/.pgpass",
        sanitize(&role),
        url::form_urlencoded::byte_serialize(role.as_bytes()).collect::<String>()
    );
    Ok(())
}

/// `recert team remove NAME [--yes]`: a member out of team mode, at once.
pub fn remove_member(g: &Globals, name: &str, yes: bool) -> Result<()> {
    let mut store = postgres(g)?;
    let shown = sanitize(name);
    if !yes
        && !confirm(
            1,
            1,
            &format!(
                "Remove {shown} from team mode on {}: out of recert's groups, unable to log in, their open sessions ended.",
                g.paths.store
            ),
            "remove",
        )?
    {
        eprintln!("recert: nothing removed");
        return Ok(());
    }
    if !store.remove_member(name)? {
        bail!("{shown} is no member of team mode here: `recert team list` shows who is");
    }
    eprintln!(
        "recert: {shown} is removed: cannot log in, in no group, mapped to no one; their decisions and the audit log stay"
    );
    Ok(())
}

/// `recert team list`: each member's role, groups, login and person.
pub fn list_members(g: &Globals) -> Result<()> {
    let store = postgres(g)?;
    let members = store.members()?;
    let head = ["ROLE", "GROUPS", "LOGIN", "PERSON"].map(String::from);
    let rows = members.iter().map(|m| {
        [
            m.role.clone(),
            if m.groups.is_empty() {
                "-".to_string()
            } else {
                m.groups.join(",")
            },
            if m.login { "yes" } else { "no" }.to_string(),
            m.email.clone().unwrap_or_else(|| "-".into()),
        ]
    });
    print!(
        "{}",
        crate::model::text::columns(std::iter::once(head).chain(rows), &[])
    );
    println!("{} members", members.len());
    Ok(())
}

/// `recert store copy --to URL|DIR`: this store, whole, into an empty one on the other engine
/// (or the same), both audit chains verified.
pub fn store_copy(g: &Globals, to: &str) -> Result<()> {
    use crate::store::Location;
    let target = if to.starts_with("postgres://") || to.starts_with("postgresql://") {
        let t = crate::store::Target::parse(to).map_err(|e| anyhow::anyhow!(e))?;
        if t.password_in_url() {
            bail!(
                "the address in --to holds a password, which is refused (every user of this machine can read a command line): set PGPASSWORD or use ~/.pgpass"
            );
        }
        Location::Postgres(t)
    } else {
        Location::Dir(PathBuf::from(to))
    };
    if target.to_string() == g.paths.store.to_string() {
        bail!("--to names the store being copied: give another one");
    }
    let from = Store::open(&g.paths.store)?;
    let mut into = Store::open(&target)?;
    let copied = from.copy_to(&mut into)?;
    let rows: u64 = copied.rows.iter().map(|(_, n)| n).sum();
    println!(
        "copied {} from {} to {target}: {}; the audit log ({}) verifies on both",
        plural(rows as usize, "row"),
        g.paths.store,
        copied
            .rows
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        plural(copied.audit_entries, "entry"),
    );
    Ok(())
}
