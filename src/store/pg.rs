//! The PostgreSQL connection behind [`super::db::Conn`]: tokio-postgres, its connection driven
//! on a thread of its own, so the store's synchronous calls work from any thread (a console
//! worker, a CLI command inside the async runtime) exactly as SQLite's do. The password never
//! comes from the URL in a file: `PGPASSWORD`, the `.pgpass` file (libpq's rules) or the OS
//! keyring. TLS is rustls with the platform's certificate store, and a certificate is always
//! verified.

use std::sync::mpsc;
use std::time::Duration;

use futures::StreamExt;
use tokio_postgres::config::SslMode;

use super::db::{DbError, Param, Params, Prepared, Value};
use crate::secret::Secret;

/// The advisory lock every PostgreSQL write transaction takes first ("rcrt", writer).
pub(crate) const WRITER_LOCK: i64 = 0x7263_7274_0001;
/// The advisory lock held while the schema is migrated ("rcrt", schema).
pub(crate) const SCHEMA_LOCK: i64 = 0x7263_7274_0002;

/// A PostgreSQL store's address, as given (`postgres://user@host:port/db?sslmode=…`).
#[derive(Clone)]
pub struct Target {
    config: Box<tokio_postgres::Config>,
    /// The address as shown to people: never a password.
    shown: String,
    password_in_url: bool,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl Target {
    /// Parse a `postgres://` or `postgresql://` URL. Unknown `sslmode`s and malformed URLs are
    /// refused with what was wrong (and never echo a password).
    pub fn parse(url: &str) -> Result<Target, String> {
        let parsed = url::Url::parse(url.trim())
            .map_err(|e| format!("the database address is not a URL ({e}); write it as postgres://USER@HOST:PORT/DATABASE"))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(format!(
                "the database address must start with postgres:// (it starts with {}://)",
                parsed.scheme()
            ));
        }
        let mut clean = parsed.clone();
        let _ = clean.set_password(None);
        // libpq's stricter modes: we always verify a server's certificate when TLS is used.
        let mut query: Vec<(String, String)> = clean
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let asked = query
            .iter()
            .find(|(k, _)| k == "sslmode")
            .map(|(_, v)| v.clone());
        query.retain(|(k, _)| k != "sslmode");
        let mut to_parse = clean.clone();
        to_parse.set_query(None);
        if !query.is_empty() {
            to_parse.query_pairs_mut().extend_pairs(&query);
        }
        let mut config: tokio_postgres::Config = to_parse
            .as_str()
            .parse()
            .map_err(|e| format!("the database address cannot be used: {e}"))?;
        // A password anywhere in the address (its user part or a `password=` parameter).
        let password_in_url = parsed.password().is_some() || config.get_password().is_some();
        if let Some(p) = parsed.password() {
            let p = percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned();
            config.password(Secret::new(p).expose());
        }
        if let Some(p) = config.get_password() {
            Secret::new(String::from_utf8_lossy(p));
        }
        if config.get_user().is_none() {
            let user = std::env::var("PGUSER")
                .ok()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "postgres".into());
            config.user(&user);
        }
        if config.get_hosts().is_empty() {
            config.host(std::env::var("PGHOST").unwrap_or_else(|_| "localhost".into()));
        }
        if config.get_dbname().is_none() {
            let db = config.get_user().unwrap_or_default().to_string();
            config.dbname(&db);
        }
        // TLS unless the server is on this machine: a password (or a SCRAM exchange a
        // man in the middle could downgrade to one) never crosses a network in clear.
        let local = is_local(&config);
        config.ssl_mode(match asked.as_deref() {
            Some("disable") if local => SslMode::Disable,
            Some("disable") => {
                return Err(format!(
                    "sslmode=disable is refused for {}: recert sends the password only over TLS to a server on another machine (drop sslmode, or use require / verify-full)",
                    host_of(&config)
                ));
            }
            None | Some("prefer" | "allow") if local => SslMode::Prefer,
            None | Some("prefer" | "allow" | "require" | "verify-ca" | "verify-full") => {
                SslMode::Require
            }
            Some(other) => {
                return Err(format!(
                    "sslmode={} is not one recert knows: use disable (this machine only), require, verify-ca or verify-full",
                    crate::model::text::sanitize(other)
                ));
            }
        });
        // A writer that waits for the lock longer than this, or a session that holds a
        // transaction open and silent, is given up on by the server instead of blocking the
        // whole team; a dead peer is noticed in about half a minute.
        let options = format!(
            "{} -c lock_timeout=10000 -c idle_in_transaction_session_timeout=300000",
            config.get_options().unwrap_or_default()
        );
        config
            .application_name("recert")
            .options(options.trim())
            .connect_timeout(Duration::from_secs(10))
            .tcp_user_timeout(Duration::from_secs(30))
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .keepalives_interval(Duration::from_secs(10))
            .keepalives_retries(3);
        let shown = format!(
            "postgres://{}@{}:{}/{}",
            config.get_user().unwrap_or_default(),
            host_of(&config),
            config.get_ports().first().copied().unwrap_or(5432),
            config.get_dbname().unwrap_or_default()
        );
        Ok(Target {
            config: Box::new(config),
            shown,
            password_in_url,
        })
    }

    /// Whether the URL itself carried a password (refused where the URL came from a file or
    /// a command line).
    pub fn password_in_url(&self) -> bool {
        self.password_in_url
    }

    /// The address without any secret, for messages and `recert doctor`.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or_default()
    }

    /// The password from the environment, `.pgpass` or the keyring, when the URL has none.
    fn with_password(&self) -> tokio_postgres::Config {
        let mut c = (*self.config).clone();
        if c.get_password().is_some() {
            return c;
        }
        if let Ok(p) = std::env::var("PGPASSWORD")
            && !p.is_empty()
        {
            c.password(Secret::new(p).expose());
            return c;
        }
        if let Some(p) = pgpass(&c) {
            c.password(Secret::new(p).expose());
            return c;
        }
        let name = format!("database:{}", self.shown);
        if let Ok(p) = crate::config::off_runtime(move || {
            keyring::Entry::new(crate::config::KEYRING_SERVICE, &name)
                .and_then(|e| e.get_password())
        }) && !p.is_empty()
        {
            c.password(Secret::new(p).expose());
        }
        c
    }
}

/// Is every host of `c` this machine (a loopback address, `localhost`, a Unix socket)?
fn is_local(c: &tokio_postgres::Config) -> bool {
    c.get_hosts().iter().all(|h| match h {
        tokio_postgres::config::Host::Tcp(h) => {
            h == "localhost"
                || h.trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        tokio_postgres::config::Host::Unix(_) => true,
    })
}

fn host_of(c: &tokio_postgres::Config) -> String {
    match c.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    }
}

/// libpq's password file: `PGPASSFILE` or `~/.pgpass`, `host:port:database:user:password`
/// lines with `*` for any and `\` escaping `:` and `\`; ignored unless private to its owner.
fn pgpass(c: &tokio_postgres::Config) -> Option<String> {
    let path = std::env::var_os("PGPASSFILE")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".pgpass")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).ok()?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(file = %path.display(), "password file is readable by others; ignored (chmod 0600 it)");
            return None;
        }
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let want = [
        host_of(c),
        c.get_ports().first().copied().unwrap_or(5432).to_string(),
        c.get_dbname().unwrap_or_default().to_string(),
        c.get_user().unwrap_or_default().to_string(),
    ];
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| {
            let fields = pgpass_fields(l);
            if fields.len() < 5 {
                return None;
            }
            let matches = fields[..4]
                .iter()
                .zip(&want)
                .all(|(f, w)| f == "*" || f == w || (f == "localhost" && w.starts_with('/')));
            matches.then(|| fields[4].clone())
        })
}

fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                if let Some(n) = chars.next() {
                    fields.last_mut().unwrap().push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => fields.last_mut().unwrap().push(ch),
        }
    }
    fields
}

/// One PostgreSQL session.
pub(crate) struct Pg {
    client: tokio_postgres::Client,
    prepared: Prepared,
    /// What other sessions announced (`NOTIFY`) on the channels this one listens to.
    notices: std::sync::Mutex<mpsc::Receiver<Notice>>,
    /// How long a write waits for the writers' lock, in milliseconds.
    writer_wait_ms: std::sync::atomic::AtomicU64,
    _driver: std::thread::JoinHandle<()>,
}

/// How long a write waits for the writers' lock before it gives up and says who holds it.
pub(crate) const WRITER_WAIT: Duration = Duration::from_secs(120);

impl Pg {
    pub fn connect(target: &Target) -> Result<Pg, DbError> {
        let config = target.with_password();
        let (client_tx, client_rx) = mpsc::sync_channel(1);
        let (note_tx, note_rx) = mpsc::channel();
        let driver = std::thread::Builder::new()
            .name("recert-postgres".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = client_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                rt.block_on(drive(config, client_tx, note_tx));
            })
            .map_err(|e| DbError::Session(format!("cannot start the database thread: {e}")))?;
        // The TLS handshake and the login are bounded too: a server that accepts the
        // connection and then says nothing is given up on.
        let client = match client_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(DbError::Session(e)),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(DbError::Session(
                    "the server accepted the connection but did not finish logging in within 30 s"
                        .into(),
                ));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(DbError::Session(
                    "the database thread stopped before connecting".into(),
                ));
            }
        };
        Ok(Pg {
            client: match client {
                Connected::Client(c) => c,
                Connected::Failed(e) => return Err(DbError::Pg(e)),
            },
            prepared: Prepared::default(),
            notices: std::sync::Mutex::new(note_rx),
            writer_wait_ms: (WRITER_WAIT.as_millis() as u64).into(),
            _driver: driver,
        })
    }

    /// How long a write waits for the writers' lock.
    pub fn writer_wait(&self) -> Duration {
        Duration::from_millis(
            self.writer_wait_ms
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    pub fn set_writer_wait(&self, wait: Duration) {
        self.writer_wait_ms.store(
            // PostgreSQL's lock_timeout is an int of milliseconds.
            wait.as_millis().clamp(1, i32::MAX as u128) as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Whether the server or the network ended this session (it cannot be used again).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    fn statement(&self, sql: &str) -> Result<tokio_postgres::Statement, DbError> {
        self.prepared.get(sql, |s| {
            futures::executor::block_on(self.client.prepare(s)).map_err(DbError::Pg)
        })
    }

    pub fn exec(&self, sql: &str, p: Params) -> Result<usize, DbError> {
        let st = self.statement(sql)?;
        let values: Vec<Param> = p.iter().map(|v| v.param()).collect();
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            values.iter().map(|v| v as _).collect();
        Ok(futures::executor::block_on(self.client.execute(&st, &refs))? as usize)
    }

    /// One statement for each of `rows`, sent together: tokio-postgres pipelines requests
    /// polled at once, so the batch costs one round trip. The server runs them in order; the
    /// first error is the one returned.
    pub fn exec_pipelined(&self, sql: &str, rows: &[Vec<Value>]) -> Result<(), DbError> {
        let st = self.statement(sql)?;
        futures::executor::block_on(async {
            let sent = rows
                .iter()
                .map(|r| self.client.execute_raw(&st, r.iter().map(Value::param)));
            for done in futures::future::join_all(sent).await {
                done?;
            }
            Ok(())
        })
    }

    pub fn batch(&self, sql: &str) -> Result<(), DbError> {
        Ok(futures::executor::block_on(self.client.batch_execute(sql))?)
    }

    pub fn each(
        &self,
        sql: &str,
        p: Params,
        f: &mut dyn FnMut(&tokio_postgres::Row) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        let st = self.statement(sql)?;
        let values: Vec<Param> = p.iter().map(|v| v.param()).collect();
        futures::executor::block_on(async {
            let rows = self.client.query_raw(&st, values.iter()).await?;
            let mut rows = std::pin::pin!(rows);
            while let Some(r) = rows.next().await {
                f(&r?)?;
            }
            Ok(())
        })
    }
}

/// One notification: the server process of the session that sent it (its payload is only
/// a hint, and not read).
#[derive(Debug, Clone)]
pub(crate) struct Notice {
    pub pid: i32,
}

impl Pg {
    /// Wait up to `timeout` for notifications (after `LISTEN`); what came, oldest first.
    /// `Err` when the connection has ended.
    pub fn wait(&self, timeout: Duration) -> Result<Vec<Notice>, ()> {
        let rx = self.notices.lock().unwrap_or_else(|e| e.into_inner());
        match rx.recv_timeout(timeout) {
            Ok(first) => Ok(std::iter::once(first).chain(rx.try_iter()).collect()),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(Vec::new()),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(()),
        }
    }
}

enum Connected {
    Client(tokio_postgres::Client),
    Failed(tokio_postgres::Error),
}

async fn drive(
    config: tokio_postgres::Config,
    client_tx: mpsc::SyncSender<Result<Connected, String>>,
    note_tx: mpsc::Sender<Notice>,
) {
    let tls = config.get_ssl_mode() != SslMode::Disable;
    let connector = if tls {
        match tls_connector() {
            Ok(c) => Some(c),
            Err(e) => {
                let _ = client_tx.send(Err(e));
                return;
            }
        }
    } else {
        None
    };
    macro_rules! run {
        ($connect:expr) => {
            match $connect.await {
                Ok((client, mut conn)) => {
                    if client_tx.send(Ok(Connected::Client(client))).is_err() {
                        return;
                    }
                    loop {
                        let msg = std::future::poll_fn(|cx| conn.poll_message(cx)).await;
                        match msg {
                            Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                                let _ = note_tx.send(Notice {
                                    pid: n.process_id(),
                                });
                            }
                            Some(Ok(_)) => {}
                            Some(Err(e)) => {
                                tracing::warn!(error = %e, "database connection ended");
                                return;
                            }
                            None => return,
                        }
                    }
                }
                Err(e) => {
                    let _ = client_tx.send(Ok(Connected::Failed(e)));
                }
            }
        };
    }
    match connector {
        Some(c) => run!(config.connect(c)),
        None => run!(config.connect(tokio_postgres::NoTls)),
    }
}

fn tls_connector() -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls_platform_verifier::ConfigVerifierExt;
    let config = rustls::ClientConfig::with_platform_verifier()
        .map_err(|e| format!("cannot set up TLS for the database: {e}"))?;
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_shown_without_its_password() {
        let t = Target::parse("postgres://alice:s3cr%3At@db.example:5433/recert?sslmode=require")
            .unwrap();
        assert!(t.password_in_url());
        assert_eq!(t.shown(), "postgres://alice@db.example:5433/recert");
        assert!(!format!("{t:?}").contains("s3cr"));
        let e = Target::parse("mysql://x@y/z").err().unwrap();
        assert!(e.contains("postgres://"), "{e}");
        assert!(Target::parse("postgres://a@h/d?sslmode=verify-full").is_ok());
        // A password as a parameter is a password in the address too.
        assert!(
            Target::parse("postgres://a@h/d?password=x")
                .unwrap()
                .password_in_url()
        );
        assert!(!Target::parse("postgres://a@h/d").unwrap().password_in_url());
    }

    #[test]
    fn a_password_leaves_the_machine_only_over_tls() {
        let mode = |u: &str| Target::parse(u).map(|t| t.config.get_ssl_mode());
        assert_eq!(mode("postgres://a@db.example/d"), Ok(SslMode::Require));
        assert_eq!(
            mode("postgres://a@db.example/d?sslmode=prefer"),
            Ok(SslMode::Require)
        );
        assert!(
            mode("postgres://a@db.example/d?sslmode=disable")
                .unwrap_err()
                .contains("refused")
        );
        assert_eq!(
            mode("postgres://a@127.0.0.1/d?sslmode=disable"),
            Ok(SslMode::Disable)
        );
        assert_eq!(mode("postgres://a@[::1]/d"), Ok(SslMode::Prefer));
        assert!(mode("postgres://a@h/d?sslmode=bogus").is_err());
    }

    #[test]
    fn a_password_with_plus_and_ampersand_is_read_whole() {
        let t = Target::parse("postgres://a:p%2Bq%26r+s@h/d").unwrap();
        assert_eq!(t.config.get_password(), Some("p+q&r+s".as_bytes()));
    }

    #[test]
    fn pgpass_lines_are_split_on_unescaped_colons() {
        assert_eq!(
            pgpass_fields(r"h:5432:db:u\:x:pa\:ss:word"),
            ["h", "5432", "db", "u:x", "pa:ss:word"]
        );
    }
}
