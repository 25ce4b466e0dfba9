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
    /// Where snapshots and decisions are stored (default: the platform data dir).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// A theme: `dark` (built in) or a path to a theme TOML file.
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
    /// Serve the provider simulator (OpenAI admin API + SCIM directory) until killed.
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
        /// Faults to inject: KIND[:RATE][@PATH],... with KIND 429, 500, truncate, endless, repeat, timeout.
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
        /// Append one JSON line per request served (method, path, status, time) to FILE.
        #[arg(long, value_name = "FILE")]
        request_log: Option<PathBuf>,
        /// Allow at most N writes (non-GET requests) per minute across all providers; 429
        /// without Retry-After beyond that.
        #[arg(long, value_name = "N")]
        write_limit: Option<u32>,
    },
    /// Pull every configured source into a new snapshot.
    Sync,
    /// Print the gaps found in the latest snapshot.
    Gaps {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Only these rules (comma-separated, e.g. orphaned-key,dormant-key).
        #[arg(long, value_delimiter = ',')]
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
    },
    /// Write an evidence pack for auditors.
    Export {
        #[command(subcommand)]
        cmd: ExportCmd,
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

#[derive(Subcommand)]
enum AuditCmd {
    /// Check every link of the chain; name the first edited, deleted or reordered entry.
    Verify,
    /// Write the log as JSON lines.
    Export {
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

fn plan_opts(archive: bool) -> recert::remediate::PlanOptions {
    recert::remediate::PlanOptions {
        archive_anthropic_keys: archive,
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Cli::parse();
    let paths = Paths::resolve(args.config.as_deref(), args.data_dir.as_deref());
    cli::init_logging(&paths);
    let g = Globals {
        paths,
        config_explicit: args.config.is_some(),
        theme: args.theme,
        read_only: args.read_only,
    };
    let result = match args.cmd {
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
        }) => {
            cli::sim(cli::SimArgs {
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
        Some(Cmd::Sync) => cli::sync_cmd(&g).await,
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
        Some(Cmd::Demo { size, seed }) => cli::demo(&g, args.data_dir.as_deref(), size, seed).await,
        Some(Cmd::Login { source }) => cli::login(&g, &source),
        Some(Cmd::Plan { format, archive }) => cli::plan_cmd(&g, format, plan_opts(archive)),
        Some(Cmd::Export {
            cmd: ExportCmd::Evidence { out },
        }) => cli::export_evidence(&g, &out),
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
        }) => {
            let what = match (key, person) {
                (Some(k), _) => cli::RevokeWhat::Key(k),
                (None, Some(p)) => cli::RevokeWhat::Person(p),
                (None, None) => unreachable!("clap requires one"),
            };
            cli::revoke_cmd(&g, what, reason, yes, plan_opts(archive)).await
        }
        Some(Cmd::Apply {
            resume,
            yes,
            archive,
        }) => cli::apply_cmd(&g, resume, yes, plan_opts(archive)).await,
        Some(Cmd::Audit {
            cmd: AuditCmd::Verify,
        }) => cli::audit_verify(&g),
        Some(Cmd::Audit {
            cmd: AuditCmd::Export { out },
        }) => cli::audit_export(&g, out.as_deref()),
        None => cli::console(&g),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("recert: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
