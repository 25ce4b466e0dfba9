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
        let admin = server().expect(
            "RECERT_TEST_DATABASE_URL is not set: source scripts/pg-test-cluster (bash .ci/run does)",
        );
        let name = format!(
            "recert_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
            chrono::Utc::now().timestamp_micros() % 1_000_000
        );
        admin_sql(&admin, &format!("CREATE DATABASE {name}"));
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

impl TestDb {
    /// This test database's address logged in as `role` with `password`.
    pub fn url_as(&self, role: &str, password: &str) -> Option<String> {
        let mut url = url::Url::parse(&self.url()?).ok()?;
        url.set_username(role).ok()?;
        url.set_password(Some(password)).ok()?;
        Some(url.to_string())
    }
}

/// Run `sql` (several statements) in one session on the database at `url`: for tests that
/// need a session's state (a temporary table) to last from one statement to the next.
pub fn batch_as(url: &str, sql: &str) -> Result<(), String> {
    let target = Target::parse(url)?;
    let conn = super::pg::Pg::connect(&target).map_err(|e| e.to_string())?;
    conn.batch(sql).map_err(|e| e.to_string())
}
