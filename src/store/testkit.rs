//! Stores for tests, on either engine: a SQLite store in a temporary directory, or a fresh
//! PostgreSQL database on the server `RECERT_TEST_DATABASE_URL` names (a role that may create
//! databases; `scripts/pg-test-cluster` starts a private one). Each PostgreSQL test store is
//! its own database, dropped when the value is.

use super::{Store, Target};

/// Where one test's store lives.
pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres {
        admin: String,
        target: Box<Target>,
        name: String,
    },
}

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The server the PostgreSQL tests use, if one is configured.
pub fn server() -> Option<String> {
    std::env::var("RECERT_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        TestDb::Sqlite(tempfile::tempdir().expect("a temporary directory"))
    }

    /// A new, empty database on the test server. Panics (failing the test) when there is no
    /// server: tests that need one are marked ignored where it is missing (`no_postgres`).
    pub fn postgres() -> TestDb {
        TestDb::postgres_created("")
    }

    /// A new database whose text sorts as people read it (ICU, en-US), not by code point:
    /// a DBA's database is more often this than the test cluster's C.UTF-8.
    pub fn postgres_natural_order() -> TestDb {
        TestDb::postgres_created(" LOCALE_PROVIDER icu ICU_LOCALE 'en-US' TEMPLATE template0")
    }

    fn postgres_created(how: &str) -> TestDb {
        let admin = server().expect(
            "RECERT_TEST_DATABASE_URL is not set: source scripts/pg-test-cluster (bash .ci/run does)",
        );
        let name = format!(
            "recert_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
            chrono::Utc::now().timestamp_micros() % 1_000_000
        );
        admin_sql(&admin, &format!("CREATE DATABASE {name}{how}"));
        let mut url = url::Url::parse(&admin).expect("RECERT_TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        let target = Target::parse(url.as_str()).expect("a test database address");
        TestDb::Postgres {
            admin,
            target: Box::new(target),
            name,
        }
    }

    /// Open (or reopen) this test's store.
    pub fn open(&self) -> Store {
        self.try_open().expect("the test store opens")
    }

    pub fn try_open(&self) -> Result<Store, super::StoreError> {
        match self {
            TestDb::Sqlite(dir) => Store::open(dir.path()),
            TestDb::Postgres { target, .. } => Store::connect(target),
        }
    }

    /// The address of a PostgreSQL test store (with the test server's credentials).
    pub fn url(&self) -> Option<String> {
        match self {
            TestDb::Sqlite(_) => None,
            TestDb::Postgres { admin, name, .. } => {
                let mut url = url::Url::parse(admin).ok()?;
                url.set_path(&format!("/{name}"));
                Some(url.to_string())
            }
        }
    }
}

/// Run one statement as the test server's administrator, on its maintenance database.
pub fn admin_sql(admin: &str, sql: &str) {
    let target = Target::parse(admin).expect("RECERT_TEST_DATABASE_URL is a postgres:// URL");
    let conn = super::pg::Pg::connect(&target).expect("the test server answers");
    conn.batch(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The one integer `sql` answers, run as the test server's administrator on the database
/// `admin` names.
pub fn admin_sql_value(admin: &str, sql: &str) -> i64 {
    let target = Target::parse(admin).expect("a postgres:// URL");
    let conn =
        super::db::Conn::Pg(super::pg::Pg::connect(&target).expect("the test server answers"));
    conn.value(sql, super::db::args![])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin, name, .. } = self {
            let target = match Target::parse(admin) {
                Ok(t) => t,
                Err(_) => return,
            };
            if let Ok(conn) = super::pg::Pg::connect(&target) {
                let _ = conn.batch(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// `engines!(name, |db: &TestDb| { … })`: one test body, run once on SQLite and once on
/// PostgreSQL (marked ignored, with the reason, where no test server is configured).
#[macro_export]
macro_rules! engines {
    ($(#[$doc:meta])* $name:ident, $body:expr) => {
        $(#[$doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn sqlite() {
                let db = $crate::store::testkit::TestDb::sqlite();
                let f: &dyn Fn(&$crate::store::testkit::TestDb) = &$body;
                f(&db);
            }
            #[test]
            #[cfg_attr(
                no_postgres,
                ignore = "no PostgreSQL test server: source scripts/pg-test-cluster (bash .ci/run does)"
            )]
            fn postgres() {
                let db = $crate::store::testkit::TestDb::postgres();
                let f: &dyn Fn(&$crate::store::testkit::TestDb) = &$body;
                f(&db);
            }
        }
    };
}

/// Run `sql` on the database at `url` as whoever `url` logs in as: the rows it changed, or
/// the server's refusal (for tests that try what a role may not do, with raw SQL).
pub fn exec_as(url: &str, sql: &str) -> Result<usize, String> {
    let target = Target::parse(url)?;
    let conn = super::pg::Pg::connect(&target).map_err(|e| e.to_string())?;
    conn.exec(sql, &[]).map_err(|e| e.to_string())
}

/// The advisory lock every PostgreSQL write takes first: what a hostile session would take.
pub const WRITER_LOCK: i64 = super::pg::WRITER_LOCK;

/// One raw PostgreSQL session that stays open between statements (a session-level lock it
/// takes lasts until it lets go or is dropped).
pub struct Session(super::pg::Pg);

impl Session {
    pub fn open(url: &str) -> Result<Session, String> {
        let target = Target::parse(url)?;
        super::pg::Pg::connect(&target)
            .map(Session)
            .map_err(|e| e.to_string())
    }

    pub fn batch(&self, sql: &str) -> Result<(), String> {
        self.0.batch(sql).map_err(|e| e.to_string())
    }
}

impl TestDb {
    /// This test database's address logged in as `role` with `password`.
    pub fn url_as(&self, role: &str, password: &str) -> Option<String> {
        let mut url = url::Url::parse(&self.url()?).ok()?;
        url.set_username(role).ok()?;
        url.set_password(Some(password)).ok()?;
        Some(url.to_string())
    }
}

/// The store's writer lock held on a connection of its own, as another process halfway
/// through a write holds it: statements run inside that transaction, seen by others only once
/// it commits. For tests of what a writer reads before and after it waits for the lock.
pub struct HeldWriter(Store);

impl TestDb {
    pub fn hold_writer(&self) -> HeldWriter {
        let s = self.open();
        s.conn.begin_unguarded().expect("the writer lock");
        HeldWriter(s)
    }
}

impl HeldWriter {
    pub fn batch(&self, sql: &str) {
        self.0.conn.batch(sql).expect("the held writer's statement");
    }

    pub fn commit(self) {
        self.0
            .conn
            .batch("COMMIT")
            .expect("the held writer commits");
    }
}

/// Run `sql` (several statements) in one session on the database at `url`: for tests that
/// need a session's state (a temporary table) to last from one statement to the next.
pub fn batch_as(url: &str, sql: &str) -> Result<(), String> {
    let target = Target::parse(url)?;
    let conn = super::pg::Pg::connect(&target).map_err(|e| e.to_string())?;
    conn.batch(sql).map_err(|e| e.to_string())
}

/// A directory person (source `dir`, active, one address) in `groups`.
pub fn person(id: &str, email: &str, groups: &[&str]) -> crate::model::Person {
    crate::model::Person {
        source: "dir".into(),
        id: id.into(),
        user_name: email.into(),
        emails: vec![email.into()],
        display_name: None,
        active: true,
        absent: false,
        external_id: None,
        department: None,
        title: None,
        manager_id: None,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        groups_known: true,
        employee_type: None,
        signals: Default::default(),
    }
}

/// The target of test key `k{n}`.
pub fn key(n: i64) -> crate::review::Target {
    crate::review::Target::new("openai", "openai", "project_key", &format!("k{n}"))
}

/// A decision on key `k{seq}` (the target of campaign item `seq`), with `why` as its reason.
pub fn decision(
    seq: i64,
    verdict: crate::review::Verdict,
    why: &str,
) -> crate::review::NewDecision {
    crate::review::NewDecision {
        verdict,
        target: key(seq),
        label: format!("key k{seq}"),
        rule: None,
        owner: None,
        until: None,
        justification: Some(why.into()),
    }
}

/// Campaign item `seq`: key `k{seq}`, routed to `reviewer`.
pub fn item(seq: i64, reviewer: &str) -> crate::review::campaign::Item {
    crate::review::campaign::Item {
        seq,
        target: key(seq),
        label: format!("key k{seq}"),
        person: None,
        resource_id: None,
        resource: None,
        role: None,
        via: None,
        rules: vec![],
        last_used: None,
        created_at: None,
        fingerprint: format!("fp{seq}"),
        reviewer: reviewer.into(),
        routed_by: "test".into(),
        recommendation: None,
        change: None,
        carried: None,
    }
}

/// A directory snapshot of `people` in `s`: its id.
pub fn directory(s: &mut Store, people: Vec<crate::model::Person>) -> i64 {
    s.write_snapshot(
        1,
        &[super::SourceResult {
            source: "dir".into(),
            kind: "scim".into(),
            outcome: Ok(crate::model::SourceData {
                people,
                ..Default::default()
            }),
            requests: 1,
            started_at: 1,
            finished_at: 1,
        }],
    )
    .expect("the snapshot is written")
}

/// Campaign `name` of `items` on snapshot `snap`, created by `owner`: its id.
pub fn campaign(
    s: &mut Store,
    name: &str,
    snap: i64,
    items: &[crate::review::campaign::Item],
    on_close: crate::review::campaign::OnClose,
) -> i64 {
    let (scope, routing) = Default::default();
    s.create_campaign(
        &crate::review::campaign::NewCampaign {
            name,
            snapshot_id: snap,
            due: "2026-12-31",
            scope: &scope,
            routing: &routing,
            on_close,
            since: None,
        },
        items,
        "owner",
        2,
    )
    .expect("the campaign is created")
}

impl TestDb {
    /// Where this test's store is, as the engine and the CLI are given it.
    pub fn location(&self) -> super::Location {
        match self {
            TestDb::Sqlite(dir) => super::Location::Dir(dir.path().to_path_buf()),
            TestDb::Postgres { target, .. } => super::Location::Postgres((**target).clone()),
        }
    }

    /// The test database's name (PostgreSQL), to make cluster-wide role names its own.
    pub fn tag(&self) -> String {
        match self {
            TestDb::Sqlite(_) => "sqlite".into(),
            TestDb::Postgres { name, .. } => name.clone(),
        }
    }
}
