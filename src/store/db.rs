//! One connection, two engines: the store's SQL runs unchanged on SQLite (embedded, one
//! operator) and on PostgreSQL (team mode). The store writes its statements once, in the
//! subset both speak, with numbered `?N` parameters; this module binds them (PostgreSQL sees
//! `$N`), reads rows by position, and holds the few places where the two differ (transaction
//! start, new row ids, a table's columns). Every integer column is 64-bit on both, and a
//! boolean is stored as 0 or 1, so a value reads back the same from either.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Deref;

use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use super::pg::Pg;

/// A bound parameter, borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    Null,
    Int(i64),
    Text(&'a str),
}

/// A value that binds as a parameter on either engine.
pub(crate) trait ToParam {
    fn param(&self) -> Param<'_>;
}

impl ToParam for i64 {
    fn param(&self) -> Param<'_> {
        Param::Int(*self)
    }
}
impl ToParam for i32 {
    fn param(&self) -> Param<'_> {
        Param::Int(i64::from(*self))
    }
}
impl ToParam for u16 {
    fn param(&self) -> Param<'_> {
        Param::Int(i64::from(*self))
    }
}
impl ToParam for u32 {
    fn param(&self) -> Param<'_> {
        Param::Int(i64::from(*self))
    }
}
impl ToParam for bool {
    fn param(&self) -> Param<'_> {
        Param::Int(i64::from(*self))
    }
}
impl ToParam for str {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}
impl ToParam for String {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}
impl ToParam for compact_str::CompactString {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}
impl<T: ToParam + ?Sized> ToParam for &T {
    fn param(&self) -> Param<'_> {
        (**self).param()
    }
}
impl<T: ToParam> ToParam for Option<T> {
    fn param(&self) -> Param<'_> {
        match self {
            Some(v) => v.param(),
            None => Param::Null,
        }
    }
}

/// `args![a, b, c]`: a statement's parameters, in order (`?1`, `?2`, `?3`).
macro_rules! args {
    () => { &[] as &[&dyn $crate::store::db::ToParam] };
    ($($e:expr),+ $(,)?) => { &[$(&$e as &dyn $crate::store::db::ToParam),+] as &[&dyn $crate::store::db::ToParam] };
}
pub(crate) use args;

pub(crate) type Params<'a> = &'a [&'a dyn ToParam];

/// A value of any column, held: rows kept until a pipelined batch is sent, a snapshot row
/// compared with the one stored, a row copied between engines.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(Box<str>),
}

impl ToParam for Value {
    fn param(&self) -> Param<'_> {
        Value::param(self)
    }
}

impl Cell for Value {
    fn lite(r: &rusqlite::Row, i: usize) -> rusqlite::Result<Self> {
        use rusqlite::types::ValueRef;
        Ok(match r.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(n) => Value::Int(n),
            ValueRef::Real(f) => Value::Text(f.to_string().into()),
            ValueRef::Text(t) | ValueRef::Blob(t) => Value::Text(String::from_utf8_lossy(t).into()),
        })
    }
    fn pg(r: &tokio_postgres::Row, i: usize) -> Result<Self, DbError> {
        Ok(if *r.columns()[i].type_() == Type::TEXT {
            Option::<String>::pg(r, i)?.map_or(Value::Null, |t| Value::Text(t.into()))
        } else {
            Option::<i64>::pg(r, i)?.map_or(Value::Null, Value::Int)
        })
    }
}

impl Value {
    /// The value as both engines store it (text through [`storable`]), so a value held
    /// compares equal to the same value read back.
    pub(crate) fn of(p: &dyn ToParam) -> Value {
        match p.param() {
            Param::Null => Value::Null,
            Param::Int(i) => Value::Int(i),
            Param::Text(s) => Value::Text(storable(s).into()),
        }
    }

    pub(crate) fn param(&self) -> Param<'_> {
        match self {
            Value::Null => Param::Null,
            Value::Int(i) => Param::Int(*i),
            Value::Text(s) => Param::Text(s),
        }
    }
}

/// How many rows [`Conn::exec_many`] sends to PostgreSQL in one pipelined batch.
const PIPELINE_ROWS: usize = 1024;

/// Text as both engines store it: PostgreSQL's `text` cannot hold U+0000, so a NUL that
/// provider text carries is written as U+FFFD on both (one hostile display name must not fail
/// a sync on one engine, nor read back differently from the other). Everything else is
/// stored exactly. What is hashed before it is stored (a decision batch's digest) is hashed in
/// this form.
pub(crate) fn storable(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        std::borrow::Cow::Owned(s.replace('\0', "\u{fffd}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match *self {
            Param::Null => ToSqlOutput::Owned(Value::Null),
            Param::Int(i) => ToSqlOutput::Owned(Value::Integer(i)),
            Param::Text(s) => match storable(s) {
                std::borrow::Cow::Borrowed(s) => {
                    ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
                }
                std::borrow::Cow::Owned(s) => ToSqlOutput::Owned(Value::Text(s)),
            },
        })
    }
}

/// PostgreSQL asks for each parameter's type; the value is sent as that type (an integer for
/// a `bigint` column, text for a `text` one), so one Rust value binds wherever it is used.
impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("an integer cannot be sent as {ty}").into()),
            },
            Param::Text(s) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR | Type::UNKNOWN => {
                    storable(s).as_ref().to_sql(ty, out)
                }
                _ => Err(format!("text cannot be sent as {ty}").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// What a statement failed with, on either engine.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Lite(#[from] rusqlite::Error),
    #[error("{}", pg_text(.0))]
    Pg(#[from] tokio_postgres::Error),
    /// A query that must answer one row answered none.
    #[error("the query returned no rows")]
    NoRows,
    /// A value that does not fit where it is read.
    #[error("column {0}: {1}")]
    Type(usize, String),
    /// The session could not be set up (TLS, the login never finishing, no thread to drive
    /// it): what happened.
    #[error("{0}")]
    Session(String),
    /// A write waited its whole turn for the writers' lock and wrote nothing: who holds it,
    /// as the server says.
    #[error("{0}")]
    Busy(String),
}

fn pg_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {} ({})", db.severity(), db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl DbError {
    /// PostgreSQL's SQLSTATE, when the server answered with an error.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            DbError::Pg(e) => e.code().map(|c| c.code()),
            _ => None,
        }
    }
}

/// A value read from a column by position.
pub(crate) trait Cell: Sized {
    fn lite(r: &rusqlite::Row, i: usize) -> rusqlite::Result<Self>;
    fn pg(r: &tokio_postgres::Row, i: usize) -> Result<Self, DbError>;
}

/// An integer of any width (or a boolean) read as `i64`.
struct PgInt(i64);

impl<'a> FromSql<'a> for PgInt {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgInt(match *ty {
            Type::INT8 => i64::from_sql(ty, raw)?,
            Type::INT4 => i64::from(i32::from_sql(ty, raw)?),
            Type::INT2 => i64::from(i16::from_sql(ty, raw)?),
            _ => i64::from(bool::from_sql(ty, raw)?),
        }))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::INT8 | Type::INT4 | Type::INT2 | Type::BOOL)
    }
}

impl Cell for Option<i64> {
    fn lite(r: &rusqlite::Row, i: usize) -> rusqlite::Result<Self> {
        r.get(i)
    }
    fn pg(r: &tokio_postgres::Row, i: usize) -> Result<Self, DbError> {
        Ok(r.try_get::<_, Option<PgInt>>(i)?.map(|v| v.0))
    }
}
impl Cell for i64 {
    fn lite(r: &rusqlite::Row, i: usize) -> rusqlite::Result<Self> {
        r.get(i)
    }
    fn pg(r: &tokio_postgres::Row, i: usize) -> Result<Self, DbError> {
        Option::<i64>::pg(r, i)?.ok_or(DbError::Type(i, "NULL where a number belongs".into()))
    }
}
impl Cell for Option<bool> {
    fn lite(r: &rusqlite::Row, i: usize) -> rusqlite::Result<Self> {
        r.get(i)
    }
    fn pg(r: &tokio_postgres::Row, i: usize) -> Result<Self, DbError> {
        Ok(Option::<i64>::pg(r, i)?.map(|v| v != 0))
    }
}
impl Cell for bool {
    fn lite(r: &rusqlite::Row, i: usize) -> rusqlite::Result<Self> {
        r.get(i)
    }
    fn pg(r: &tokio_postgres::Row, i: usize) -> Result<Self, DbError> {
        Ok(i64::pg(r, i)? != 0)
    }
}
impl Cell for Option<String> {
    fn lite(r: &rusqlite::Row, i: usize) -> rusqlite::Result<Self> {
        r.get(i)
    }
    fn pg(r: &tokio_postgres::Row, i: usize) -> Result<Self, DbError> {
        Ok(r.try_get(i)?)
    }
}
impl Cell for String {
    fn lite(r: &rusqlite::Row, i: usize) -> rusqlite::Result<Self> {
        r.get(i)
    }
    fn pg(r: &tokio_postgres::Row, i: usize) -> Result<Self, DbError> {
        Ok(r.try_get(i)?)
    }
}
impl Cell for compact_str::CompactString {
    fn lite(r: &rusqlite::Row, i: usize) -> rusqlite::Result<Self> {
        r.get_ref(i)?
            .as_str()
            .map(compact_str::CompactString::from)
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    i,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
    }
    fn pg(r: &tokio_postgres::Row, i: usize) -> Result<Self, DbError> {
        Ok(compact_str::CompactString::from(r.try_get::<_, &str>(i)?))
    }
}
impl Cell for Option<compact_str::CompactString> {
    fn lite(r: &rusqlite::Row, i: usize) -> rusqlite::Result<Self> {
        match r.get_ref(i)? {
            rusqlite::types::ValueRef::Null => Ok(None),
            _ => compact_str::CompactString::lite(r, i).map(Some),
        }
    }
    fn pg(r: &tokio_postgres::Row, i: usize) -> Result<Self, DbError> {
        Ok(r.try_get::<_, Option<&str>>(i)?
            .map(compact_str::CompactString::from))
    }
}

/// One row of a result, read by column position.
pub(crate) enum Row<'a> {
    Lite(&'a rusqlite::Row<'a>),
    Pg(&'a tokio_postgres::Row),
}

impl Row<'_> {
    pub fn get<T: Cell>(&self, i: usize) -> Result<T, DbError> {
        match self {
            Row::Lite(r) => Ok(T::lite(r, i)?),
            Row::Pg(r) => T::pg(r, i),
        }
    }
}

/// Which engine a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub(crate) enum Conn {
    Lite(rusqlite::Connection),
    Pg(Pg),
}

/// `?N` → `$N` (and a bare `?` → the next number), outside quoted text.
pub(crate) fn dollar_params(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let (mut quoted, mut next) = (false, 1);
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                let mut n = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    n.push(*d);
                    chars.next();
                }
                if n.is_empty() {
                    n = next.to_string();
                }
                next = n.parse::<usize>().unwrap_or(next) + 1;
                out.push('$');
                out.push_str(&n);
            }
            _ => out.push(c),
        }
    }
    out
}

fn lite_params<'a>(p: Params<'a>) -> Vec<Param<'a>> {
    p.iter().map(|v| v.param()).collect()
}

impl Conn {
    pub fn engine(&self) -> Engine {
        match self {
            Conn::Lite(_) => Engine::Sqlite,
            Conn::Pg(_) => Engine::Postgres,
        }
    }

    /// Whether the connection is gone (a PostgreSQL session the server or the network ended);
    /// a SQLite connection never is.
    pub fn is_lost(&self) -> bool {
        match self {
            Conn::Lite(_) => false,
            Conn::Pg(c) => c.is_closed(),
        }
    }

    /// The SQLite connection, for what only SQLite has (pragmas, its file).
    #[allow(dead_code)]
    pub fn lite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Conn::Lite(c) => Some(c),
            Conn::Pg(_) => None,
        }
    }

    /// Run one statement; how many rows it changed.
    pub fn exec(&self, sql: &str, p: Params) -> Result<usize, DbError> {
        match self {
            Conn::Lite(c) => Ok(c
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(lite_params(p)))?),
            Conn::Pg(c) => c.exec(sql, p),
        }
    }

    /// Run one statement once per row, in order: `rows` calls `push` with each row's
    /// parameters. SQLite runs each at once; PostgreSQL gets the rows in pipelined batches (one
    /// round trip a batch, not a row). The first failure ends it, and every row pushed before
    /// `rows` returns is sent before this does.
    pub fn exec_many(
        &self,
        sql: &str,
        rows: impl FnOnce(&mut dyn FnMut(Params) -> Result<(), DbError>) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        match self {
            Conn::Lite(c) => {
                let mut st = c.prepare_cached(sql)?;
                rows(&mut |p| {
                    st.execute(rusqlite::params_from_iter(lite_params(p)))?;
                    Ok(())
                })
            }
            Conn::Pg(c) => {
                let mut held: Vec<Vec<Value>> = Vec::with_capacity(PIPELINE_ROWS);
                rows(&mut |p| {
                    held.push(p.iter().map(|v| Value::of(*v)).collect());
                    if held.len() == PIPELINE_ROWS {
                        c.exec_pipelined(sql, &held)?;
                        held.clear();
                    }
                    Ok(())
                })?;
                if !held.is_empty() {
                    c.exec_pipelined(sql, &held)?;
                }
                Ok(())
            }
        }
    }

    /// Run statements without parameters (a migration).
    pub fn batch(&self, sql: &str) -> Result<(), DbError> {
        match self {
            Conn::Lite(c) => Ok(c.execute_batch(sql)?),
            Conn::Pg(c) => c.batch(sql),
        }
    }

    /// Call `f` on each row, in order, without holding the whole result.
    pub fn each(
        &self,
        sql: &str,
        p: Params,
        mut f: impl FnMut(&Row) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        match self {
            Conn::Lite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let mut rows = st.query(rusqlite::params_from_iter(lite_params(p)))?;
                while let Some(r) = rows.next()? {
                    f(&Row::Lite(r))?;
                }
                Ok(())
            }
            Conn::Pg(c) => c.each(sql, p, &mut |r| f(&Row::Pg(r))),
        }
    }

    /// Every row, each made into a `T` by `f`.
    pub fn map<T>(
        &self,
        sql: &str,
        p: Params,
        mut f: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        let mut out = Vec::new();
        self.each(sql, p, |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The first column of every row.
    pub fn column<T: Cell>(&self, sql: &str, p: Params) -> Result<Vec<T>, DbError> {
        self.map(sql, p, |r| r.get(0))
    }

    /// The first row, if there is one.
    pub fn row<T>(
        &self,
        sql: &str,
        p: Params,
        f: impl FnOnce(&Row) -> Result<T, DbError>,
    ) -> Result<Option<T>, DbError> {
        let mut f = Some(f);
        let mut out = None;
        self.each(sql, p, |r| {
            if let Some(f) = f.take() {
                out = Some(f(r)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row, which must be there.
    pub fn one<T>(
        &self,
        sql: &str,
        p: Params,
        f: impl FnOnce(&Row) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.row(sql, p, f)?.ok_or(DbError::NoRows)
    }

    /// The first column of the one row.
    pub fn value<T: Cell>(&self, sql: &str, p: Params) -> Result<T, DbError> {
        self.one(sql, p, |r| r.get(0))
    }

    /// Insert one row into a table whose key is a generated `id`; the new id.
    pub fn insert_id(&self, sql: &str, p: Params) -> Result<i64, DbError> {
        match self {
            Conn::Lite(c) => {
                c.prepare_cached(sql)?
                    .execute(rusqlite::params_from_iter(lite_params(p)))?;
                Ok(c.last_insert_rowid())
            }
            Conn::Pg(_) => self.value(&format!("{sql} RETURNING id"), p),
        }
    }

    /// A table's columns, in their order.
    pub fn columns(&self, table: &str) -> Result<Vec<String>, DbError> {
        match self {
            Conn::Lite(c) => {
                let mut st = c.prepare(&format!("PRAGMA table_info({table})"))?;
                let cols = st
                    .query_map([], |r| r.get::<_, String>(1))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(cols)
            }
            Conn::Pg(_) => self.column(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position",
                args![table],
            ),
        }
    }

    /// Begin a write transaction, holding the store's write lock from its first statement:
    /// writers run one at a time, and every check made inside one still holds when it
    /// commits. (On SQLite a deferred transaction that reads first cannot take the lock
    /// later while another process writes: it fails "database is locked" at once, whatever
    /// the busy timeout. On PostgreSQL the lock is an advisory transaction lock.)
    pub fn begin(&mut self) -> Result<Tx<'_>, DbError> {
        self.start("BEGIN IMMEDIATE")
    }

    /// Run `f` on one consistent view of the store (nothing another session commits
    /// meanwhile is seen): for reads that must agree with each other, like the audit chain
    /// and the rows that point into it.
    pub fn consistent<T, E>(
        &self,
        err: impl Fn(DbError) -> E,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        self.batch(match self {
            Conn::Lite(_) => "BEGIN DEFERRED",
            Conn::Pg(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        })
        .map_err(err)?;
        let out = f();
        let _ = self.batch("ROLLBACK");
        out
    }

    /// Begin a transaction that holds the write lock, for a caller that must read through
    /// the store while it is open and ends it itself (`COMMIT` or `ROLLBACK`).
    pub fn begin_unguarded(&self) -> Result<(), DbError> {
        self.open_tx("BEGIN IMMEDIATE")
    }

    fn start(&mut self, lite: &str) -> Result<Tx<'_>, DbError> {
        self.open_tx(lite)?;
        Ok(Tx {
            conn: self,
            open: true,
        })
    }

    fn open_tx(&self, lite: &str) -> Result<(), DbError> {
        match self {
            Conn::Lite(c) => c.execute_batch(lite)?,
            Conn::Pg(c) => {
                // Read committed, whatever the server's default: each statement after the
                // lock sees what the writer before committed. Many reviewers at once queue
                // for the lock in order; a writer waits its turn up to two minutes (any other
                // lock, the session's 10 s).
                c.batch(&format!(
                    "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = '{}ms'",
                    c.writer_wait().as_millis()
                ))?;
                let locked = c
                    .exec(
                        "SELECT pg_advisory_xact_lock(?1)",
                        args![super::pg::WRITER_LOCK],
                    )
                    .and_then(|_| c.batch("SET LOCAL lock_timeout = '10s'"));
                if let Err(e) = locked {
                    let _ = c.batch("ROLLBACK");
                    if e.sqlstate() == Some("55P03") {
                        return Err(DbError::Busy(self.writer_holder(c.writer_wait())));
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

impl Conn {
    /// Who holds the writers' lock, after a write waited `waited` for it: any session may take
    /// an advisory lock (a reviewer with raw SQL too), so the others are told whose session it
    /// is and how a DBA ends it. `pg_locks` and `pg_stat_activity`'s role and pid are
    /// visible to every role (the state only to those who may read all statistics).
    fn writer_holder(&self, waited: std::time::Duration) -> String {
        let key = super::pg::WRITER_LOCK;
        let holder = self
            .row(
                "SELECT a.usename::text, a.pid::bigint, COALESCE(a.state, '')::text,
                        COALESCE(EXTRACT(EPOCH FROM now() - a.state_change), 0)::bigint
                   FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                    AND l.classid::bigint = ?1 AND l.objid::bigint = ?2
                  LIMIT 1",
                args![key >> 32, key & 0xffff_ffff],
                |r| {
                    Ok((
                        r.get::<String>(0)?,
                        r.get::<i64>(1)?,
                        r.get::<String>(2)?,
                        r.get::<i64>(3)?,
                    ))
                },
            )
            .ok()
            .flatten();
        let waited = waited.as_secs_f64();
        match holder {
            Some((role, pid, state, secs)) => {
                // Another role's session shows its state only to those who may read all
                // statistics (a DBA); a reviewer sees the role and the session.
                let state = if state.is_empty() {
                    String::new()
                } else {
                    format!(", {} for {secs} s", crate::model::text::sanitize(&state))
                };
                format!(
                    "the writers' lock is held by role {} (session {pid}{state}); this write waited {waited:.1} s for it and nothing was written. Try again; if it persists, a DBA can end that session: SELECT pg_terminate_backend({pid})",
                    crate::model::text::sanitize(&role),
                )
            }
            None => format!(
                "another session held the writers' lock for the {waited:.1} s this write waits, and nothing was written. Try again; if it persists, ask the DBA which session holds it (pg_locks)"
            ),
        }
    }
}

/// An open transaction: rolled back when dropped uncommitted (an early `?` return).
pub(crate) struct Tx<'a> {
    conn: &'a mut Conn,
    open: bool,
}

impl Deref for Tx<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl Tx<'_> {
    pub fn commit(mut self) -> Result<(), DbError> {
        self.open = false;
        let r = self.conn.batch("COMMIT");
        if r.is_err() {
            let _ = self.conn.batch("ROLLBACK");
        }
        r
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.batch("ROLLBACK");
        }
    }
}

/// Prepared statements of one PostgreSQL connection, by their text.
#[derive(Default)]
pub(crate) struct Prepared(RefCell<HashMap<String, tokio_postgres::Statement>>);

impl Prepared {
    pub fn get(
        &self,
        sql: &str,
        prepare: impl FnOnce(&str) -> Result<tokio_postgres::Statement, DbError>,
    ) -> Result<tokio_postgres::Statement, DbError> {
        if let Some(st) = self.0.borrow().get(sql) {
            return Ok(st.clone());
        }
        let st = prepare(&dollar_params(sql))?;
        let mut cache = self.0.borrow_mut();
        // Statements built from data (an `IN (…)` of any length) must not grow it forever.
        if cache.len() >= 512 {
            cache.clear();
        }
        cache.insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_and_bare_parameters_become_dollars_outside_quotes() {
        assert_eq!(
            dollar_params("SELECT ?1, '?2', ?12 WHERE a = ? AND b IN (?, ?)"),
            "SELECT $1, '?2', $12 WHERE a = $13 AND b IN ($14, $15)"
        );
        assert_eq!(dollar_params("a IN (?, ?, ?)"), "a IN ($1, $2, $3)");
        assert_eq!(
            dollar_params("x = 'it''s ?' AND y = ?2"),
            "x = 'it''s ?' AND y = $2"
        );
    }
}
