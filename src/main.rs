//! The `recert` binary: parse, set up logging, dispatch. Nothing else.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use recert::cli::{self, Format, Globals};
use recert::config::Paths;
use recert::sim::world::Size;

#[derive(Parser)]
#[command(
    name = "recert",
    version,
    about = "Access reviews for AI platforms: find the SCIM gaps, certify, reassign or revoke."
)]
struct Cli {
    /// Config file (default: the platform config dir, e.g. ~/.config/recert/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where snapshots and decisions are stored (default: $RECERT_DATA_DIR, else the platform data dir).
    #[arg(long, global = true, value_name = "DIR", env = "RECERT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Team mode: the PostgreSQL store, postgres://USER@HOST:PORT/DATABASE (default:
    /// $RECERT_DATABASE_URL, else the config's `[store] url`; else SQLite in the data dir).
    /// The password comes from PGPASSWORD, ~/.pgpass or the OS keyring, never the URL.
    #[arg(long, global = true, value_name = "URL")]
    database: Option<String>,
    /// A theme: `dark`, `light`, `high-contrast` or `colorblind` (built in), or a path to a theme TOML file.
    #[arg(long, global = true)]
    theme: Option<String>,
    /// Refuse every destructive action.
    #[arg(long, global = true)]
    read_only: bool,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print recert's man page (roff) to stdout: `recert man > recert.1`.
    Man,
    /// Serve the provider simulator (OpenAI, Anthropic, Cursor, a SCIM directory, an Okta org, an Entra tenant) until killed.
    Sim {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        #[arg(long, value_enum, default_value = "small")]
        size: Size,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Added latency per request, in milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Faults to inject: KIND[:RATE][@PATH],... with KIND 429, 500, 403, 404, truncate, endless, repeat, timeout, echo, flood, drip.
        #[arg(long)]
        faults: Option<String>,
        /// The admin key the simulated providers accept.
        #[arg(long, default_value = recert::sim::DEFAULT_KEY)]
        key: String,
        /// Write the planted findings (the ground truth) as JSON to FILE.
        #[arg(long, value_name = "FILE")]
        truth: Option<PathBuf>,
        /// Write a recert config pointing at this simulator (keys from $RECERT_SIM_KEY).
        #[arg(long, value_name = "FILE")]
        write_config: Option<PathBuf>,
        /// Which directory API the written config reads people from (the same people).
        #[arg(long, value_enum, default_value = "scim")]
        directory: recert::sim::Directory,
        /// Append one JSON line per request served (method, path, status, time) to FILE.
        #[arg(long, value_name = "FILE")]
        request_log: Option<PathBuf>,
        /// Plant hostile text in names (terminal escape sequences, spreadsheet formulas,
        /// line separators, bidi overrides), to see that none of it reaches its reader.
        #[arg(long)]
        hostile: bool,
        /// Allow at most N writes (non-GET requests) per minute across all providers; 429
        /// without Retry-After beyond that.
        #[arg(long, value_name = "N")]
        write_limit: Option<u32>,
    },
    /// Pull every configured source into a new snapshot (of audit logs and usage reports, only
    /// the days since the last sync are read)
    Sync {
        /// Read every audit log and usage report whole, not on from the last snapshot.
        #[arg(long)]
        full: bool,
    },
    /// Check the setup: what each source's key can and cannot read (one read-only request per
    /// endpoint the sync uses, with the fix for each refusal), the config and the store.
    /// Exits non-zero when a source cannot be synced or the store is unusable.
    Doctor {
        #[arg(long, value_enum, default_value = "table")]
        format: cli::Format,
    },
    /// Print the gaps found in the latest snapshot.
    Gaps {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Only these rules (comma-separated, e.g. orphaned-key,dormant-key).
        #[arg(long, value_delimiter = ',', value_parser = rule_ids())]
        rule: Vec<String>,
        /// Only these providers (openai, anthropic, cursor).
        #[arg(long, value_delimiter = ',')]
        provider: Vec<String>,
        /// Only these severities (critical, high, medium, low, info).
        #[arg(long, value_delimiter = ',')]
        severity: Vec<String>,
        /// Only what this person holds (any of their directory emails).
        #[arg(long, value_name = "EMAIL")]
        person: Option<String>,
    },
    /// One person's whole footprint: accounts, memberships and roles, keys, activity, findings.
    Person {
        email: String,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Try recert on a simulated organisation: no account, config or network needed.
    Demo {
        #[arg(long, value_enum, default_value = "medium")]
        size: Size,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Which directory API the demo reads people from: the simulator's SCIM server, its
        /// Okta org or its Entra tenant (the same people; the last two also with the AI
        /// platforms' apps, provisioning outcomes, sign-ins and leave dates).
        #[arg(long, value_enum, default_value = "scim")]
        directory: recert::sim::Directory,
    },
    /// Store a source's admin key in the OS keyring.
    Login { source: String },
    /// The provider calls the standing revoke decisions will make.
    Plan {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Archive Anthropic keys (permanent) instead of setting them inactive (reversible).
        #[arg(long)]
        archive: bool,
        /// Only the manual steps (what no API can do), as tickets with their evidence.
        #[arg(long)]
        manual: bool,
    },
    /// Plan, confirm and send the standing revoke decisions, journaling every call.
    Apply {
        /// Finish the plan an interrupted (or partly failed) run left.
        #[arg(long)]
        resume: bool,
        /// Do not ask for confirmation (scripts); still journaled and audited.
        #[arg(long)]
        yes: bool,
        /// Archive Anthropic keys (permanent) instead of setting them inactive (reversible).
        #[arg(long)]
        archive: bool,
        /// Give up the unfinished plan's calls that are not done (a call the provider will
        /// never accept), so new plans can go; audited with `--reason`.
        #[arg(long, conflicts_with_all = ["resume", "archive"], requires = "reason")]
        abandon: bool,
        /// Why the calls are given up (with `--abandon`).
        #[arg(long)]
        reason: Option<String>,
    },
    /// The manual steps of applied plans (what no API can do), as tickets.
    Manual {
        #[command(subcommand)]
        cmd: ManualCmd,
    },
    /// Incident mode: revoke one key, or everything one person holds, on every provider.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["key", "person"])))]
    Revoke {
        /// A key id, OpenAI redacted_value, Anthropic partial_key_hint, or the whole key.
        #[arg(long, value_name = "HINT")]
        key: Option<String>,
        /// Everything this person holds: accounts, memberships, keys.
        #[arg(long, value_name = "EMAIL")]
        person: Option<String>,
        /// The justification recorded (default: says it was incident response).
        #[arg(long)]
        reason: Option<String>,
        /// Do not ask for confirmation (scripts); still journaled and audited.
        #[arg(long)]
        yes: bool,
        /// Archive Anthropic keys (permanent) instead of setting them inactive (reversible).
        #[arg(long)]
        archive: bool,
        /// For each call an earlier plan already made, read the object from the provider:
        /// gone is said so (nothing sent), still there is sent again (with why).
        #[arg(long)]
        recheck: bool,
    },
    /// Write an evidence pack for auditors.
    Export {
        #[command(subcommand)]
        cmd: ExportCmd,
    },
    /// The store itself: copy it whole into another (SQLite to PostgreSQL and back).
    Store {
        #[command(subcommand)]
        cmd: StoreCmd,
    },
    /// Team mode on PostgreSQL: roles, row-level security and reviewers' logins.
    Team {
        #[command(subcommand)]
        cmd: TeamCmd,
    },
    /// recert's ownership records for keys, service accounts and resources.
    Owners {
        #[command(subcommand)]
        cmd: OwnersCmd,
    },
    /// The hash-chained audit log.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Open the console on a campaign reviewer's queue.
    Review {
        #[arg(long, value_name = "NAME")]
        campaign: String,
        /// Whose queue (default: settings.reviewer, $RECERT_REVIEWER, $USER).
        #[arg(long = "as", value_name = "EMAIL")]
        reviewer: Option<String>,
    },
    /// Certification campaigns: a frozen population routed to reviewers, decided, signed off,
    /// closed and reported.
    Campaign {
        #[command(subcommand)]
        cmd: CampaignCmd,
    },
}

#[derive(Subcommand)]
enum CampaignCmd {
    /// Freeze the review population of the latest snapshot and route it to reviewers.
    New {
        #[arg(long)]
        name: String,
        /// The due day: YYYY-MM-DD or +30d.
        #[arg(long)]
        due: String,
        /// Only these providers (openai, anthropic, cursor).
        #[arg(long, value_delimiter = ',')]
        provider: Vec<String>,
        /// Only these configured sources.
        #[arg(long, value_delimiter = ',')]
        source: Vec<String>,
        /// Only these item kinds (grant, project_key, api_key, admin_key).
        #[arg(long, value_delimiter = ',')]
        kind: Vec<String>,
        /// Only these resources (project or workspace ids or names).
        #[arg(long, value_delimiter = ',')]
        resource: Vec<String>,
        /// Only items that carry one of these gap rules.
        #[arg(long, value_delimiter = ',', value_parser = rule_ids())]
        rule: Vec<String>,
        /// Only holders with this directory attribute (department=Sales, title=...,
        /// employee_type=Contractor, group=Admins, active=false); repeat to require several.
        #[arg(long = "where", value_name = "ATTR=VALUE")]
        attrs: Vec<String>,
        /// What undecided items become at close.
        #[arg(long, default_value = "no-change", value_parser = ["no-change", "revoke", "certify"])]
        on_close: String,
        /// An earlier campaign: show what changed since, pre-fill the unchanged from it.
        #[arg(long, value_name = "CAMPAIGN")]
        since: Option<String>,
        /// Routing rules in order (manager, owner, an email, group:NAME); replaces [review] route.
        #[arg(long, value_delimiter = ',')]
        route: Vec<String>,
        /// Who reviews what no rule routes; replaces [review] fallback.
        #[arg(long, value_name = "EMAIL")]
        fallback: Option<String>,
        /// Let people review their own access.
        #[arg(long)]
        allow_self_review: bool,
        /// Route to reviewers the directory does not know as active people or groups.
        #[arg(long)]
        force: bool,
    },
    /// Every campaign with its progress.
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// One campaign: progress per reviewer, outcomes, recommendations, changes.
    Status {
        name: String,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// A campaign's items, optionally one reviewer's queue or only what changed.
    Items {
        name: String,
        /// Only this reviewer's queue.
        #[arg(long = "as", value_name = "EMAIL")]
        reviewer: Option<String>,
        /// Only items new or modified since the earlier campaign.
        #[arg(long)]
        changed: bool,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Stage decisions in your queue (submit records them).
    Decide {
        name: String,
        #[arg(long = "as", value_name = "EMAIL")]
        reviewer: Option<String>,
        /// Item numbers.
        #[arg(long, value_delimiter = ',')]
        item: Vec<i64>,
        /// Every undecided item of the queue.
        #[arg(long)]
        all: bool,
        /// Each item's own recommendation (items without one are left).
        #[arg(long, conflicts_with = "verdict")]
        recommended: bool,
        #[arg(long, value_parser = ["certify", "revoke", "reassign", "defer"])]
        verdict: Option<String>,
        /// The new owner (reassign).
        #[arg(long, value_name = "EMAIL")]
        owner: Option<String>,
        /// Until when (defer): YYYY-MM-DD or +30d.
        #[arg(long)]
        until: Option<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Show your staged batch, confirm, and record it.
    Submit {
        name: String,
        #[arg(long = "as", value_name = "EMAIL")]
        reviewer: Option<String>,
        #[arg(long)]
        yes: bool,
    },
    /// Hand items of your queue to another reviewer, with a reason.
    Delegate {
        name: String,
        #[arg(long = "as", value_name = "EMAIL")]
        reviewer: Option<String>,
        #[arg(long, value_name = "EMAIL")]
        to: String,
        #[arg(long, value_delimiter = ',')]
        item: Vec<i64>,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        reason: String,
        /// Hand over to someone the directory does not know as an active person or group.
        #[arg(long)]
        force: bool,
    },
    /// Sign off your queue; your decisions are locked after.
    Signoff {
        name: String,
        #[arg(long = "as", value_name = "EMAIL")]
        reviewer: Option<String>,
        /// Sign off with undecided items (they fall to the closing policy).
        #[arg(long)]
        incomplete: bool,
    },
    /// Close: undecided items get the closing policy, recorded per item.
    Close {
        name: String,
        #[arg(long)]
        yes: bool,
    },
    /// Remind each reviewer with open items how many are left and when the campaign is due,
    /// through the chat webhook (`RECERT_WEBHOOK_URL` or the keyring); audited.
    Remind {
        name: String,
        /// Print the messages it would send; send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Withdraw a campaign started by mistake: staged and submitted decisions are withdrawn
    /// (never applied); the campaign stays on record, marked cancelled, audited.
    Cancel {
        name: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        yes: bool,
    },
    /// Every item with decision, reviewer, justification, recommendation and remediation
    /// result: HTML with charts, CSV, JSON, and a SHA-256 manifest.
    Report {
        name: String,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum ExportCmd {
    /// Snapshot summary, findings, decisions, calls and results as CSV and JSON, an HTML
    /// report with charts, the audit log, and a SHA-256 manifest.
    Evidence {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum StoreCmd {
    /// Copy this store (every snapshot, decision, campaign, plan and the audit log, with their
    /// ids) into an empty one: a postgres:// address or a directory for a SQLite store. Both
    /// audit logs are verified; a non-empty target is refused.
    Copy {
        #[arg(long, value_name = "URL|DIR")]
        to: String,
    },
}

#[derive(Subcommand)]
enum TeamCmd {
    /// Print the roles, grants and row-level security policies of team mode, then (confirmed)
    /// apply them. Run once as the DBA (a role that may create roles and owns recert's tables).
    Init {
        /// Apply without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Make a database login role for a reviewer, mapped to them (run as the DBA).
    AddReviewer {
        email: String,
        /// Also a campaign owner: may create, close and cancel campaigns.
        #[arg(long)]
        owner: bool,
        /// Read the new role's password from this environment variable instead of a prompt.
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
    /// Make a database login role for a process: the syncer (writes snapshots) or the
    /// applier (plans and applies), with only what it needs (run as the DBA).
    AddService {
        name: String,
        #[arg(long, value_enum)]
        role: ServiceRole,
        /// Read the new role's password from this environment variable instead of a prompt.
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
    /// Remove a reviewer or a service from team mode: out of recert's groups, unable to log
    /// in, unmapped, their open sessions ended (run as the DBA).
    Remove {
        /// The member's role: a reviewer's email address, or a service's name.
        name: String,
        /// Remove without asking.
        #[arg(long)]
        yes: bool,
    },
    /// List team mode's members: each login role, its groups, and the person it is.
    List,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ServiceRole {
    Syncer,
    Applier,
}

#[derive(Subcommand)]
enum OwnersCmd {
    /// Assign owners in bulk from a CSV (columns `id`, `owner`, optionally `source`).
    Import {
        file: PathBuf,
        #[arg(long)]
        reason: Option<String>,
    },
    /// List the ownership records.
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

/// The gap rules' ids, for `--rule`: checked by clap, and completed by the shell completions.
fn rule_ids() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(recert::reconcile::RULES.iter().map(|r| r.0))
}

#[derive(Subcommand)]
enum ManualCmd {
    /// The open manual steps (`--all`: the done ones too), each with its id, instruction and
    /// the decisions behind it.
    List {
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value = "table")]
        format: cli::Format,
    },
    /// A person did the step by hand: record it done, with how (`--reason`), who and when.
    Done {
        /// The step's id, `PLAN:SEQ`, as `manual list` shows it.
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Send each open step not sent before to the ticket intake webhook
    /// (`RECERT_TICKET_WEBHOOK_URL` or the keyring entry `recert`/`tickets`), audited.
    Send {
        /// Print the tickets; send nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check every link of the chain, its head, and every decision, plan and call that points
    /// into it; name the first edited, deleted or reordered entry.
    Verify {
        /// A head printed by an earlier `audit verify` and kept elsewhere (`SEQ:HASH`): prove
        /// the chain still holds it, so nothing up to it was removed or rewritten.
        #[arg(long, value_name = "SEQ:HASH")]
        head: Option<recert::audit::Head>,
    },
    /// Write the log as JSON lines: recert's own entries, or OCSF events for a SIEM.
    Export {
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// `json` (recert's entries) or `ocsf` (OCSF 1.8.0 Identity & Access Management
        /// events, recert's sequence and hash kept under `unmapped.recert`).
        #[arg(long, default_value = "json", value_parser = ["json", "ocsf"])]
        format: String,
        /// Only the entries after this sequence number (incremental shipping).
        #[arg(long, value_name = "SEQ", default_value_t = 0)]
        since: i64,
    },
}

fn plan_opts(archive: bool) -> recert::remediate::PlanOptions {
    recert::remediate::PlanOptions {
        archive_anthropic_keys: archive,
    }
}

fn campaign(g: &Globals, cmd: CampaignCmd) -> anyhow::Result<()> {
    use cli::campaign as c;
    match cmd {
        CampaignCmd::New {
            name,
            due,
            provider,
            source,
            kind,
            resource,
            rule,
            attrs,
            on_close,
            since,
            route,
            fallback,
            allow_self_review,
            force,
        } => {
            let attrs = attrs
                .iter()
                .map(|a| recert::review::campaign::Scope::parse_attr(a))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("--where {e}"))?;
            c::new(
                g,
                c::NewArgs {
                    name,
                    due,
                    scope: recert::review::campaign::Scope {
                        providers: provider,
                        sources: source,
                        kinds: kind,
                        resources: resource,
                        rules: rule,
                        attrs,
                    },
                    on_close: recert::review::campaign::OnClose::parse(&on_close)
                        .unwrap_or_default(),
                    since,
                    routes: route,
                    fallback,
                    allow_self_review,
                    force,
                },
            )
        }
        CampaignCmd::List { format } => c::list(g, format),
        CampaignCmd::Status { name, format } => c::status(g, &name, format),
        CampaignCmd::Items {
            name,
            reviewer,
            changed,
            format,
        } => c::items(
            g,
            &name,
            c::ItemsArgs {
                reviewer,
                changed,
                format,
            },
        ),
        CampaignCmd::Decide {
            name,
            reviewer,
            item,
            all,
            recommended,
            verdict,
            owner,
            until,
            reason,
        } => c::decide(
            g,
            &name,
            c::DecideArgs {
                reviewer,
                items: item,
                all,
                recommended,
                verdict: verdict.as_deref().and_then(recert::review::Verdict::parse),
                owner,
                until,
                reason,
            },
        ),
        CampaignCmd::Submit {
            name,
            reviewer,
            yes,
        } => c::submit(g, &name, reviewer, yes),
        CampaignCmd::Delegate {
            name,
            reviewer,
            to,
            item,
            all,
            reason,
            force,
        } => c::delegate(
            g,
            &name,
            c::DelegateArgs {
                reviewer,
                to,
                items: item,
                all,
                force,
                reason,
            },
        ),
        CampaignCmd::Signoff {
            name,
            reviewer,
            incomplete,
        } => c::sign_off(g, &name, reviewer, incomplete),
        CampaignCmd::Close { name, yes } => c::close(g, &name, yes),
        CampaignCmd::Cancel { name, reason, yes } => c::cancel(g, &name, &reason, yes),
        // The webhook is HTTP, on the main runtime (this runs on one of its threads).
        CampaignCmd::Remind { name, dry_run } => tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(c::remind(g, &name, dry_run))
        }),
        CampaignCmd::Report { name, out } => c::report(g, &name, &out),
    }
}

/// `completions` and `man`, printed from the one clap definition (so they never lag the
/// commands), before any config, store or log is touched. `None` for every other command.
fn docs(cmd: &Option<Cmd>) -> Option<anyhow::Result<()>> {
    use clap::CommandFactory;
    use std::io::Write;
    match cmd {
        Some(Cmd::Completions { shell }) => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "recert", &mut out);
            Some(std::io::stdout().write_all(&out).map_err(Into::into))
        }
        Some(Cmd::Man) => {
            let mut out = Vec::new();
            Some(
                clap_mangen::Man::new(Cli::command())
                    .render(&mut out)
                    .and_then(|()| std::io::stdout().write_all(&out))
                    .map_err(Into::into),
            )
        }
        _ => None,
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // `recert gaps | head` ends quietly, like other Unix tools, instead of panicking on EPIPE.
    #[cfg(unix)]
    // SAFETY: restores the default disposition of one signal, process-wide; nothing in recert
    // installs a SIGPIPE handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // A bug's report is redacted and logged; it never takes the terminal from an open console.
    recert::crash::install();
    let args = Cli::parse();
    if let Some(done) = docs(&args.cmd) {
        return match done {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("recert: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    // Bulk work (reconcile, the console's filters and sorts) yields to the threads a person
    // waits on; started only for the commands that may use it, not for --help or docs.
    // Nothing has used rayon yet, so this cannot fail but for a platform limit.
    if let Err(e) = recert::compute::init() {
        eprintln!("recert: background threads at normal priority ({e})");
    }
    let mut paths = Paths::resolve(args.config.as_deref(), args.data_dir.as_deref());
    cli::init_logging(&paths);
    if let Err(e) = paths.choose_database(args.database.as_deref()) {
        eprintln!("recert: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let g = Globals {
        paths,
        config_explicit: args.config.is_some(),
        theme: args.theme,
        read_only: args.read_only,
    };
    let result = match args.cmd {
        // Printed before anything else ran (see `docs`).
        Some(Cmd::Completions { .. } | Cmd::Man) => Ok(()),
        Some(Cmd::Sim {
            listen,
            size,
            seed,
            latency_ms,
            faults,
            key,
            truth,
            write_config,
            request_log,
            write_limit,
            hostile,
            directory,
        }) => {
            cli::sim(cli::SimArgs {
                hostile,
                directory,
                listen,
                size,
                seed,
                latency_ms,
                faults,
                key,
                truth,
                write_config,
                request_log,
                write_limit,
            })
            .await
        }
        Some(Cmd::Sync { full }) => cli::sync_cmd(&g, full).await,
        Some(Cmd::Doctor { format }) => cli::doctor(&g, format).await,
        Some(Cmd::Manual { cmd }) => match cmd {
            ManualCmd::List { all, format } => cli::manual::list(&g, all, format),
            ManualCmd::Done { id, reason } => cli::manual::done(&g, &id, &reason),
            ManualCmd::Send { dry_run } => cli::manual::send(&g, dry_run).await,
        },
        Some(Cmd::Gaps {
            format,
            rule,
            provider,
            severity,
            person,
        }) => cli::gaps(
            &g,
            format,
            &cli::GapFilter {
                rules: rule,
                providers: provider,
                severities: severity,
                person,
            },
        ),
        Some(Cmd::Person { email, format }) => cli::person(&g, &email, format),
        Some(Cmd::Demo {
            size,
            seed,
            directory,
        }) => cli::demo(&g, args.data_dir.as_deref(), size, seed, directory).await,
        Some(Cmd::Login { source }) => cli::login(&g, &source),
        Some(Cmd::Plan {
            format,
            archive,
            manual,
        }) => cli::plan_cmd(&g, format, plan_opts(archive), manual),
        Some(Cmd::Export {
            cmd: ExportCmd::Evidence { out },
        }) => cli::export_evidence(&g, &out),
        Some(Cmd::Store {
            cmd: StoreCmd::Copy { to },
        }) => cli::team::store_copy(&g, &to),
        Some(Cmd::Team {
            cmd: TeamCmd::Init { yes },
        }) => cli::team::team_init(&g, yes),
        Some(Cmd::Team {
            cmd:
                TeamCmd::AddReviewer {
                    email,
                    owner,
                    password_env,
                },
        }) => cli::team::add_member(
            &g,
            &email,
            recert::store::team::Member::Reviewer { owner },
            password_env.as_deref(),
        ),
        Some(Cmd::Team {
            cmd:
                TeamCmd::AddService {
                    name,
                    role,
                    password_env,
                },
        }) => cli::team::add_member(
            &g,
            &name,
            match role {
                ServiceRole::Syncer => recert::store::team::Member::Syncer,
                ServiceRole::Applier => recert::store::team::Member::Applier,
            },
            password_env.as_deref(),
        ),
        Some(Cmd::Team {
            cmd: TeamCmd::Remove { name, yes },
        }) => cli::team::remove_member(&g, &name, yes),
        Some(Cmd::Team { cmd: TeamCmd::List }) => cli::team::list_members(&g),
        Some(Cmd::Owners {
            cmd: OwnersCmd::Import { file, reason },
        }) => cli::owners_import(&g, &file, reason),
        Some(Cmd::Owners {
            cmd: OwnersCmd::List { format },
        }) => cli::owners_list(&g, format),
        Some(Cmd::Revoke {
            key,
            person,
            reason,
            yes,
            archive,
            recheck,
        }) => {
            let what = match (key, person) {
                (Some(k), _) => cli::RevokeWhat::Key(k),
                (None, Some(p)) => cli::RevokeWhat::Person(p),
                (None, None) => unreachable!("clap requires one"),
            };
            cli::revoke_cmd(&g, what, reason, yes, recheck, plan_opts(archive)).await
        }
        Some(Cmd::Apply {
            abandon: true,
            reason,
            ..
        }) => cli::abandon_cmd(&g, reason.as_deref().unwrap_or_default()),
        Some(Cmd::Apply {
            resume,
            yes,
            archive,
            ..
        }) => cli::apply_cmd(&g, resume, yes, plan_opts(archive)).await,
        Some(Cmd::Audit {
            cmd: AuditCmd::Verify { head },
        }) => cli::audit_verify(&g, head.as_ref()),
        Some(Cmd::Audit {
            cmd: AuditCmd::Export { out, format, since },
        }) => cli::audit_export(&g, out.as_deref(), format == "ocsf", since),
        Some(Cmd::Campaign { cmd }) => campaign(&g, cmd),
        Some(Cmd::Review { campaign, reviewer }) => cli::campaign::review(&g, &campaign, reviewer),
        None => cli::console(&g),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{}", recert::secret::redact(&format!("{e:#}"), &[]));
            // Redacted, and each line sanitized: provider text in an error never drives the
            // terminal.
            let text = recert::secret::redact(&format!("{e:#}"), &[]);
            let lines: Vec<_> = text.lines().map(recert::model::text::sanitize).collect();
            eprintln!("recert: {}", lines.join("\n"));
            std::process::ExitCode::FAILURE
        }
    }
}
