//! `update` tests. [`Harness`] runs effects the way the driver does: filter jobs on this
//! thread, and the engine's commands either kept as data for the test to check
//! ([`Harness::new`]: no engine, no store), or sent to the real engine over the console's own
//! [`Link`](crate::tui::Link) ([`Harness::with_engine`]: its store in a temporary directory),
//! for the round trips: a decision recorded and undone, a campaign act, a plan another
//! process carried out.

use super::*;
use crate::model::{Account, Credential, Finding, Owner, Person, Severity, Snapshot, SourceStatus};
use crate::store::Store;

pub fn sample_findings(n: usize) -> Vec<Finding> {
    (0..n)
        .map(|i| Finding {
            rule: ["leaver-with-access", "orphaned-key", "unmanaged-account"][i % 3].into(),
            severity: if i % 3 == 2 {
                Severity::High
            } else {
                Severity::Critical
            },
            provider: "openai".into(),
            source: "openai".into(),
            subject_kind: if i % 3 == 1 { "project_key" } else { "account" }.into(),
            subject_id: format!("id-{i:03}").into(),
            subject_email: Some(format!("person{i:03}@example.com").into()),
            detail: format!("detail for {i}"),
        })
        .collect()
}

pub const NOW: i64 = 1_795_000_000;
const DAY: i64 = 86_400;
/// The effect that judges the snapshot again (after a reassign, its undo or redo).
const REJUDGE: Effect = Effect::Engine(Command::Load { preview: false });

fn person(email: &str, name: &str, active: bool) -> Person {
    Person {
        source: "directory".into(),
        id: format!("u-{email}"),
        user_name: email.into(),
        emails: vec![email.into()],
        display_name: Some(name.into()),
        active,
        absent: false,
        external_id: None,
        department: Some("Research".into()),
        manager_id: None,
        title: Some("Staff Engineer".into()),
        groups: vec!["staff".into()],
        groups_known: true,
        employee_type: None,
        signals: Default::default(),
    }
}

fn account(provider: &str, id: &str, email: &str) -> Account {
    Account {
        source: provider.into(),
        provider: provider.into(),
        id: id.into(),
        email: Some(email.into()),
        name: None,
        role: Some("member".into()),
        added_at: Some(NOW - 400 * DAY),
        last_active_at: None,
        scim_managed: None,
        activity_from: None,
    }
}

fn key(
    id: &str,
    name: &str,
    owner: Option<(&str, &str)>,
    created_days: i64,
    used_days: Option<i64>,
    spend: Option<i64>,
) -> Credential {
    Credential {
        source: "openai".into(),
        provider: "openai".into(),
        kind: "project_key".into(),
        id: id.into(),
        name: Some(name.into()),
        redacted: Some("sk-...abcd".into()),
        resource_id: Some("proj_1".into()),
        owner: owner.map(|(oid, email)| Owner {
            kind: "user".into(),
            id: oid.into(),
            email: Some(email.into()),
            name: None,
        }),
        owner_access: None,
        status: None,
        created_at: Some(NOW - created_days * DAY),
        last_used_at: used_days.map(|d| NOW - d * DAY),
        expires_at: None,
        spend_cents: spend,
    }
}

/// A small organisation: three people (one a leaver), their accounts and keys, `n` findings.
pub fn sample_data(n: usize) -> Data {
    let mut snap = Snapshot {
        id: 1,
        taken_at: NOW,
        ..Default::default()
    };
    let d = &mut snap.data;
    let mut alice = person("alice@example.com", "Alice Smith", true);
    // What an identity provider says of her: sign-ins, a leave date, the OpenAI app.
    alice.signals = crate::model::Signals {
        sign_in_known: true,
        last_sign_in: Some(NOW - 3 * DAY),
        leave_at: Some(NOW + 10 * DAY),
        created_at: None,
    };
    d.people = vec![
        alice,
        person("bob@example.com", "Bob Jones", false),
        person("carol@example.com", "Carol \u{1b}]52;c;aGk=\u{7}Evil", true),
    ];
    d.apps = vec![crate::model::IdpApp {
        source: "directory".into(),
        app_source: "openai".into(),
        id: "0oa1".into(),
        name: Some("OpenAI".into()),
        assignments_known: true,
        open: false,
        pushes_known: true,
    }];
    d.app_access = vec![crate::model::AppAccess {
        source: "directory".into(),
        person_id: "u-alice@example.com".into(),
        app_source: "openai".into(),
        assigned: true,
        via: Some("staff".into()),
        push_kind: Some("provision".into()),
        push_result: Some("success".into()),
        push_at: Some(NOW - 40 * DAY),
        push_detail: None,
    }];
    d.accounts = vec![
        account("openai", "user-alice", "alice@example.com"),
        account("openai", "user-bob", "bob@example.com"),
        account("anthropic", "an-bob", "bob@example.com"),
    ];
    d.grants = vec![crate::model::Grant {
        source: "openai".into(),
        provider: "openai".into(),
        principal_kind: "user".into(),
        principal_id: "user-bob".into(),
        resource_id: "proj_1".into(),
        role: Some("owner".into()),
        via: "direct".into(),
    }];
    d.resources = vec![crate::model::Resource {
        source: "openai".into(),
        provider: "openai".into(),
        kind: "project".into(),
        id: "proj_1".into(),
        name: Some("Research".into()),
        archived: false,
        created_at: None,
        parent: None,
    }];
    d.credentials = vec![
        key(
            "key_a",
            "alice-ci",
            Some(("user-alice", "alice@example.com")),
            200,
            Some(120),
            Some(12_345),
        ),
        key(
            "key_b",
            "bob-notebook",
            Some(("user-bob", "bob@example.com")),
            40,
            Some(2),
            Some(50),
        ),
        key("key_c", "nobody", None, 10, None, None),
    ];
    snap.sources = vec![SourceStatus {
        source: "openai".into(),
        kind: "openai".into(),
        ok: true,
        error: None,
        carried_from: None,
        items: 9,
        requests: 4,
        started_at: NOW - 5,
        finished_at: NOW,
    }];
    Data::new(snap, sample_findings(n), crate::reconcile::Context::at(NOW))
}

/// The worker's answer to a filter job.
pub struct Harness {
    pub s: State,
    /// Every command the state sent its engine, in order: what a test checks as data.
    pub sent: Vec<Command>,
    /// The real engine, for the tests of a round trip; `None`: commands are only kept.
    engine: Option<Backed>,
    /// The campaign queue the console is on, if any.
    pub campaign: Option<crate::tui::CampaignQueue>,
    /// Hold filter jobs back (as the real driver does, where frames are drawn before a job
    /// answers) until [`Harness::flush`].
    pub defer_refine: bool,
    /// Hold the engine's answers (recorded, the review read again) back until
    /// [`Harness::flush`], as the real engine answers from its own thread after the next keys.
    pub defer_engine: bool,
    deferred: Vec<Msg>,
}

/// The engine behind a round-trip harness and its store's directory.
struct Backed {
    link: crate::tui::Link,
    dir: tempfile::TempDir,
}

impl Harness {
    /// The state on `n` sample findings; the engine's commands are kept in [`Harness::sent`].
    pub fn new(n: usize) -> Harness {
        Harness::start(n, None)
    }

    /// The state on `n` sample findings, its commands carried out by the real engine on a new
    /// store (`rev@example.com` deciding, the clock at `NOW`).
    pub fn with_engine(n: usize) -> Harness {
        Harness::with_store(n, |_| None)
    }

    /// As [`Harness::with_engine`], the store first prepared by `prepare` (as the campaign
    /// owner's recert would have), the console on the campaign queue it returns, if any.
    pub fn with_store(
        n: usize,
        prepare: impl FnOnce(&mut Store) -> Option<crate::tui::CampaignQueue>,
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let campaign = prepare(&mut Store::open(dir.path()).unwrap());
        let link = crate::tui::Link::start(crate::engine::Setup {
            store: dir.path().into(),
            config: Default::default(),
            keys: None,
            reviewer: campaign
                .as_ref()
                .map_or("rev@example.com".into(), |c| c.reviewer.clone()),
            campaign: campaign.clone(),
            read_only: false,
            clock: Arc::new(|| NOW),
        })
        .unwrap();
        let mut h = Harness::start(n, Some(Backed { link, dir }));
        h.campaign = campaign.clone();
        if campaign.is_some() {
            h.s.campaign = true;
            h.s.view = ViewId::Queue;
        }
        h.reload_review();
        h
    }

    fn start(n: usize, engine: Option<Backed>) -> Harness {
        let mut h = Harness {
            s: State::new(
                Keymap::default_map(),
                "test".into(),
                chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            ),
            sent: Vec::new(),
            engine,
            campaign: None,
            defer_refine: false,
            defer_engine: false,
            deferred: Vec::new(),
        };
        h.send(Msg::Resize { rows: 5, width: 0 });
        h.send(Msg::Data(Arc::new(sample_data(n))));
        h
    }

    /// The store the engine writes, opened as another recert process would (to set up what
    /// such a process did, or to read what this console recorded).
    pub fn outside(&self) -> Store {
        let e = self.engine.as_ref().expect("a harness with an engine");
        Store::open(e.dir.path()).unwrap()
    }

    /// Show `snap`, judged at `NOW` with no ownership records, as a load would.
    pub fn load(&mut self, snap: Snapshot) {
        let cx = crate::reconcile::Context::at(NOW);
        let findings = crate::reconcile::reconcile(&snap.data, &cx);
        self.send(Msg::Data(Arc::new(Data::new(snap, findings, cx))));
    }

    /// Send `c` to the engine and wait until it has answered; its answers as messages.
    fn ask(&mut self, c: Command) -> Vec<Msg> {
        let e = self.engine.as_mut().expect("a harness with an engine");
        assert!(e.link.send(c), "the engine is running");
        let since = std::time::Instant::now();
        while !e.link.settled() {
            assert!(
                since.elapsed() < std::time::Duration::from_secs(20),
                "the engine answers"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        e.link.messages()
    }

    /// Apply a message and run its effects the way the driver does.
    pub fn send(&mut self, msg: Msg) -> Vec<Effect> {
        let mut queue = vec![msg];
        let mut unhandled = Vec::new();
        while let Some(m) = queue.pop() {
            for e in update(&mut self.s, m) {
                match e.answer_here() {
                    Some(answer) if self.defer_refine => {
                        self.deferred.push(answer);
                        continue;
                    }
                    Some(answer) => {
                        queue.insert(0, answer);
                        continue;
                    }
                    None => {}
                }
                match e {
                    Effect::Engine(c) => {
                        self.sent.push(c.clone());
                        // The data is the test's; loading, syncing and applying reach no
                        // provider here: those stay with the test as data.
                        let answered = matches!(
                            c,
                            Command::Record { .. }
                                | Command::SetUndone { .. }
                                | Command::Campaign(_)
                                | Command::Review
                        );
                        if self.engine.is_none() || !answered {
                            unhandled.push(Effect::Engine(c));
                            continue;
                        }
                        for a in self.ask(c) {
                            if self.defer_engine {
                                self.deferred.push(a);
                            } else {
                                queue.insert(0, a);
                            }
                        }
                    }
                    other => unhandled.push(other),
                }
            }
        }
        unhandled
    }

    /// Carry out one effect the way `send` does (its answers delivered at once).
    pub fn run_effect(&mut self, e: Effect) {
        if let Some(answer) = e.answer_here() {
            self.send(answer);
        }
    }

    /// Deliver the filter jobs held back by `defer_refine`, oldest first.
    pub fn flush(&mut self) {
        let held = std::mem::take(&mut self.deferred);
        for m in held {
            self.send(m);
        }
    }

    /// Store the plan for the standing revokes, as `recert apply` in another terminal would
    /// (not sent), and have the console read the review again.
    pub fn store_pending_plan(&mut self) -> i64 {
        let mut store = self.outside();
        let steps = crate::engine::apply::pending(
            &store.decisions().unwrap(),
            &store.all_journal().unwrap(),
            &self.s.data.snapshot,
            &Default::default(),
            Default::default(),
        );
        assert!(!steps.is_empty(), "something to plan");
        crate::engine::apply::store_plan(&mut store, &steps, 0, "rev@example.com", Some(1), NOW)
            .unwrap()
    }

    /// The decisions the state asked its engine to record, in the order asked.
    pub fn recorded(&self) -> Vec<crate::review::NewDecision> {
        self.sent
            .iter()
            .filter_map(|c| match c {
                Command::Record { items, .. } => Some(items.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Certify the row under the cursor once per reason (the cursor moves on each time).
    pub fn certify_each(&mut self, whys: &[&str]) {
        for why in whys {
            self.key('c');
            self.typ(why);
            self.code(KeyCode::Enter);
        }
    }

    /// What the marked rows of the current view are about (`key` of each), sorted.
    pub fn marked(&self, key: impl Fn(&Harness, &crate::tui::table::Row) -> i64) -> Vec<i64> {
        let vs = self.s.vs();
        let mut out: Vec<i64> = vs
            .marks
            .materialise(&vs.table)
            .into_iter()
            .map(|r| key(self, &vs.table.rows[r as usize]))
            .collect();
        out.sort();
        out
    }

    /// Another reviewer, in another process, decides on another object (the first decision
    /// again, on `someone-else`); the console reads the review again.
    pub fn decide_elsewhere(&mut self) {
        let mut other = self.outside().decisions().unwrap().remove(0).d;
        other.target.id = "someone-else".into();
        self.outside()
            .record_decisions(&[other], "other@example.com", None, NOW)
            .unwrap();
        self.reload_review();
    }

    /// Decisions carried out as another process would: a plan of one `DELETE` per decision
    /// (to `/x/{target id}` on its source), each sent and answered done (HTTP 200) at `at`,
    /// the plan stored just before; the review read again.
    pub fn carry_out(&mut self, decisions: &[crate::review::Decision], at: i64) {
        let steps: Vec<crate::remediate::PlannedStep> = decisions
            .iter()
            .map(|d| crate::remediate::PlannedStep {
                decisions: vec![d.id],
                step: crate::remediate::Step::Call {
                    source: d.d.target.source.clone(),
                    method: "DELETE",
                    path: format!("/x/{}", d.d.target.id),
                    body: None,
                    note: None,
                },
            })
            .collect();
        let mut store = self.outside();
        let plan = store
            .create_plan(&steps, "rev@example.com", None, at - 2)
            .unwrap();
        for row in store.journal(plan).unwrap() {
            store.journal_sent(&row, "r", at - 1).unwrap();
            store
                .journal_result(
                    &row,
                    crate::remediate::RowState::Done,
                    Some(200),
                    "ok",
                    "r",
                    at,
                )
                .unwrap();
        }
        self.reload_review();
    }

    /// Ask the engine to read the review again (after another process changed the store).
    pub fn reload_review(&mut self) {
        self.send_engine(Command::Review);
    }

    /// Send the engine a command as the console would, its answers delivered.
    pub fn send_engine(&mut self, c: Command) {
        for a in self.ask(c) {
            self.send(a);
        }
    }

    /// Run a `:` command, as typed.
    pub fn command(&mut self, line: &str) -> Vec<Effect> {
        self.key(':');
        self.typ(line);
        self.code(KeyCode::Enter)
    }

    /// In Keys, revoke the key under the cursor, for `why`.
    pub fn revoke_in_keys(&mut self, why: &str) -> Vec<Effect> {
        self.key('4');
        self.key('r');
        self.typ(why);
        self.code(KeyCode::Enter)
    }

    pub fn key(&mut self, c: char) -> Vec<Effect> {
        self.send(Msg::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )))
    }
    pub fn code(&mut self, c: KeyCode) -> Vec<Effect> {
        self.send(Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)))
    }
    pub fn ctrl(&mut self, c: char) -> Vec<Effect> {
        self.send(Msg::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::CONTROL,
        )))
    }
    /// Type `text` with every Refine job left unanswered; the effects of the last key.
    pub fn typ_effects(&mut self, text: &str) -> Vec<Effect> {
        let mut last = Vec::new();
        for c in text.chars() {
            last = update(
                &mut self.s,
                Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
            );
        }
        last
    }

    pub fn typ(&mut self, text: &str) {
        for c in text.chars() {
            self.key(c);
        }
    }
    /// The first cell of each visible row of the current view.
    pub fn firsts(&self) -> Vec<String> {
        let vs = self.s.vs();
        vs.visible
            .iter()
            .map(|&i| vs.table.rows[i as usize].cell(0).to_string())
            .collect()
    }
    /// The current row's detail lines, as text.
    pub fn detail(&self) -> Vec<String> {
        super::super::views::of(self.s.view)
            .detail(
                &self.s,
                &crate::tui::theme::Theme::load(None, false).unwrap(),
                self.s.vs().table.rows[self.s.current().unwrap() as usize].item,
            )
            .iter()
            .map(|l| l.to_string())
            .collect()
    }

    pub fn subjects(&self) -> Vec<String> {
        let vs = self.s.vs();
        vs.visible
            .iter()
            .map(|&i| vs.table.rows[i as usize].cell(2).to_string())
            .collect()
    }
}

#[test]
fn moves_pages_and_clamps() {
    let mut h = Harness::new(12);
    h.key('j');
    h.code(KeyCode::Down);
    assert_eq!(h.s.vs().cursor, 2);
    h.code(KeyCode::PageDown);
    assert_eq!((h.s.vs().cursor, h.s.vs().offset), (7, 3));
    h.key('G');
    assert_eq!((h.s.vs().cursor, h.s.vs().offset), (11, 7));
    h.key('j');
    assert_eq!(h.s.vs().cursor, 11);
    h.key('g');
    assert_eq!((h.s.vs().cursor, h.s.vs().offset), (0, 0));
    h.key('k');
    assert_eq!(h.s.vs().cursor, 0);
}

#[test]
fn filter_as_you_type_then_escape_restores() {
    let mut h = Harness::new(30);
    h.key('/');
    assert_eq!(h.s.mode, Mode::Filter);
    h.typ("orphan");
    assert_eq!(h.s.vs().visible.len(), 10);
    // `j` and space are text while filtering, not movement or marks.
    h.typ(" 02");
    assert_eq!(h.s.vs().filter, "orphan 02");
    assert!(
        h.subjects().iter().all(|s| s.contains("02")),
        "{:?}",
        h.subjects()
    );
    h.code(KeyCode::Enter);
    assert_eq!(h.s.mode, Mode::Normal);
    h.code(KeyCode::Esc);
    assert_eq!((h.s.vs().visible.len(), h.s.vs().filter.as_str()), (30, ""));
}

#[test]
fn column_terms_and_bad_terms_keep_the_last_good_result() {
    let mut h = Harness::new(30);
    h.key('4'); // Keys
    assert_eq!(h.s.view, ViewId::Keys);
    h.key('/');
    h.typ("owner:none");
    assert_eq!(h.firsts(), ["nobody"]);
    h.code(KeyCode::Esc);
    h.key('/');
    h.typ("unused>90d provider:openai");
    assert_eq!(h.firsts(), ["alice-ci"]);
    h.typ(" colour");
    let before = h.firsts();
    h.typ(":red");
    assert!(h.s.vs().error.as_deref().unwrap().contains("colour"));
    assert_eq!(h.firsts(), before, "the last good result stays");
    h.code(KeyCode::Esc);
    h.key('/');
    h.typ("spend>100 alice");
    assert_eq!(h.firsts(), ["alice-ci"]);
    // A responder holding only a key's redacted hint finds it, alone or by its column.
    for hint in ["abcd", "hint:sk-"] {
        h.code(KeyCode::Esc);
        h.key('/');
        h.typ(hint);
        assert_eq!(h.firsts().len(), 3, "{hint}: {:?}", h.firsts());
    }
}

#[test]
fn sort_by_any_column_and_reverse() {
    let mut h = Harness::new(3);
    h.key('4');
    h.send(Msg::Key(KeyEvent::new(
        KeyCode::Char(':'),
        KeyModifiers::NONE,
    )));
    h.typ("sort spend desc");
    h.code(KeyCode::Enter);
    assert_eq!(h.firsts(), ["alice-ci", "bob-notebook", "nobody"]);
    h.key('S');
    assert_eq!(
        h.firsts(),
        ["bob-notebook", "alice-ci", "nobody"],
        "no spend sorts last both ways"
    );
    h.key('s'); // next column: status
    assert_eq!(h.s.vs().sort.unwrap().col, 7);
}

#[test]
fn stale_filter_results_are_dropped() {
    let mut h = Harness::new(30);
    h.key('/');
    // Two requests out; only the newest may land.
    let e1 = update(
        &mut h.s,
        Msg::Key(KeyEvent::new(KeyCode::Char('o'), KeyModifiers::NONE)),
    );
    let e2 = update(
        &mut h.s,
        Msg::Key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::NONE)),
    );
    let ticket = |e: &[Effect]| match &e[0] {
        Effect::Refine(j) => j.ticket,
        _ => panic!(),
    };
    update(
        &mut h.s,
        Msg::Refined {
            view: ViewId::Gaps,
            ticket: ticket(&e1),
            visible: Arc::new(vec![1]),
            found: None,
            decided: None,
        },
    );
    assert_eq!(h.s.vs().visible.len(), 30, "stale answer ignored");
    update(
        &mut h.s,
        Msg::Refined {
            view: ViewId::Gaps,
            ticket: ticket(&e2),
            visible: Arc::new(vec![1, 4]),
            found: None,
            decided: None,
        },
    );
    assert_eq!(*h.s.vs().visible, vec![1, 4]);
}

/// A filter job the worker could not finish (a bug, caught there) is answered as failed: the
/// view stops waiting (its marks and decisions were refused until the rows came, so they would
/// have been refused for good), shows every row unfiltered and says so.
#[test]
fn a_failed_filter_job_shows_every_row_and_the_view_stops_waiting() {
    let mut h = Harness::new(30);
    h.key('/');
    h.typ("orphan");
    h.code(KeyCode::Enter);
    assert_eq!(h.s.vs().visible.len(), 10);
    h.key('/');
    let e = update(
        &mut h.s,
        Msg::Key(KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE)),
    );
    let Effect::Refine(Refine { ticket, .. }) = &e[0] else {
        panic!("{e:?}")
    };
    h.code(KeyCode::Enter);
    update(
        &mut h.s,
        Msg::RefineFailed {
            view: ViewId::Gaps,
            ticket: *ticket,
        },
    );
    let vs = h.s.vs();
    assert!(!vs.updating());
    assert_eq!(vs.visible.len(), 30, "every row, unfiltered");
    assert!(vs.filter.is_empty() && vs.applied.is_empty() && vs.sort.is_none());
    let toast = &h.s.toast.as_ref().unwrap().0;
    assert!(toast.contains("could not filter or sort"), "{toast}");
    h.key(' ');
    assert_eq!(h.s.vs().marks.count(), 1, "marks work again");
}

/// Marks and decisions wait for the rows a filter asked for. Until the worker answers, the
/// rows on screen are the last filter's: a quick `/orphan Enter Space r` marked and revoked
/// rows the reviewer had just filtered away (seen in an end-to-end run on a loaded machine).
#[test]
fn marks_and_decisions_wait_for_the_rows_a_filter_asked_for() {
    let mut h = Harness::new(30);
    let press = |h: &mut Harness, code: KeyCode| {
        update(&mut h.s, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    };
    h.key('/');
    let asked = press(&mut h, KeyCode::Char('o'));
    press(&mut h, KeyCode::Enter);
    assert_eq!(h.s.mode, Mode::Normal);
    assert_eq!(h.s.vs().visible.len(), 30, "the answer is not in yet");
    press(&mut h, KeyCode::Char(' '));
    assert_eq!(
        h.s.vs().marks.count(),
        0,
        "nothing marked from the old rows"
    );
    let toast = h.s.toast.as_ref().expect("says why").0.clone();
    assert!(toast.contains("filter"), "{toast}");
    press(&mut h, KeyCode::Char('r'));
    assert_eq!(
        h.s.mode,
        Mode::Normal,
        "no revoke asked for on the old rows"
    );
    let ticket = match &asked[0] {
        Effect::Refine(j) => j.ticket,
        e => panic!("{e:?}"),
    };
    update(
        &mut h.s,
        Msg::Refined {
            view: ViewId::Gaps,
            ticket,
            visible: Arc::new(vec![4, 1]),
            found: None,
            decided: None,
        },
    );
    press(&mut h, KeyCode::Char(' '));
    assert_eq!(h.s.vs().marks.count(), 1);
    assert!(
        h.s.vs().marks.ids.contains(&4),
        "the filtered row under the cursor"
    );
}

/// `*` under a `decision:` filter marks the rows the filter showed, judged with the decisions
/// the filter was judged with: `/decision:none Enter * r` revoked every row of the table,
/// the rows already certified (hidden by the filter) among them, while the count said only
/// the undecided ones.
#[test]
fn mark_all_under_a_decision_filter_marks_only_the_rows_it_shows() {
    let mut h = Harness::with_engine(6);
    h.key('c');
    h.typ("still needed");
    h.code(KeyCode::Enter);
    let certified = h.outside().decisions().unwrap().remove(0).d.target;
    h.key('/');
    h.typ("decision:none");
    h.code(KeyCode::Enter);
    let shown = h.s.vs().visible.len();
    assert_eq!(shown, 5, "the certified row is filtered away");
    h.key('*');
    let table = h.s.vs().table.clone();
    let marked = h.s.vs().marks.materialise(&table);
    assert_eq!(marked.len(), shown, "what `*` covers is what was shown");
    h.key('r');
    h.typ("left");
    h.code(KeyCode::Enter);
    let revoked: Vec<_> = h
        .outside()
        .decisions()
        .unwrap()
        .into_iter()
        .filter(|d| d.d.verdict == crate::review::Verdict::Revoke)
        .map(|d| d.d.target)
        .collect();
    assert_eq!(revoked.len(), 5);
    assert!(
        !revoked.contains(&certified),
        "the certified row is not revoked"
    );
}

#[test]
fn marks_toggle_range_all_matching_with_exclusions_and_escape() {
    let mut h = Harness::new(30);
    h.key(' ');
    h.key(' ');
    assert_eq!(h.s.vs().marks.count(), 2);
    assert_eq!(h.s.vs().cursor, 2);
    h.key('k');
    h.key(' '); // unmark row 1
    assert_eq!(h.s.vs().marks.count(), 1);
    // Range from row 5 to row 8.
    h.key('g');
    for _ in 0..5 {
        h.key('j');
    }
    h.key('v');
    for _ in 0..3 {
        h.key('j');
    }
    h.key('v');
    assert_eq!(h.s.vs().marks.count(), 5);
    h.code(KeyCode::Esc);
    assert!(h.s.vs().marks.is_empty());
    // Everything matching a filter, then one excluded: stored as query + exclusions.
    h.key('/');
    h.typ("orphan");
    h.code(KeyCode::Enter);
    h.key('*');
    assert_eq!(h.s.vs().marks.count(), 10);
    assert!(h.s.vs().marks.ids.is_empty());
    h.key(' ');
    assert_eq!(h.s.vs().marks.count(), 9);
    assert_eq!(h.s.vs().marks.all.as_ref().unwrap().excluded.len(), 1);
    // Widening the filter keeps the marks as they were.
    h.code(KeyCode::Esc);
    assert_eq!(h.s.vs().marks.count(), 0, "first Esc clears the marks");
    h.code(KeyCode::Esc);
    assert_eq!(h.s.vs().visible.len(), 30, "second Esc clears the filter");
}

#[test]
fn a_decision_on_marks_is_recorded_with_its_justification_and_undo_redo_work() {
    let mut h = Harness::with_engine(30);
    h.key('/');
    h.typ("orphan");
    h.code(KeyCode::Enter);
    h.key('*');
    h.key('r');
    assert_eq!(h.s.mode, Mode::Prompt);
    assert!(h.s.prompt.as_ref().unwrap().danger);
    // A justification is required by default.
    h.code(KeyCode::Enter);
    assert!(h.s.prompt.as_ref().unwrap().error.is_some());
    assert!(h.outside().decisions().unwrap().is_empty());
    h.typ("leaked in a gist");
    h.code(KeyCode::Enter);
    assert_eq!(h.s.mode, Mode::Normal);
    let ds = h.outside().decisions().unwrap();
    assert_eq!(ds.len(), 10);
    assert!(ds.iter().all(|d| d.d.verdict == Verdict::Revoke
        && d.d.justification.as_deref() == Some("leaked in a gist")
        && d.d.rule.as_deref() == Some("orphaned-key")));
    assert!(
        h.s.vs().marks.is_empty(),
        "marks are cleared after deciding"
    );
    assert_eq!(h.s.review.pending.len(), 10);
    // Certify one of them: it replaces the revoke for that target.
    h.key('c');
    h.typ("owner confirmed");
    h.code(KeyCode::Enter);
    assert_eq!(h.s.review.pending.len(), 10);
    assert_eq!(
        h.s.review
            .pending
            .iter()
            .filter(|&&i| h.s.review.decisions[i as usize].d.verdict == Verdict::Certify)
            .count(),
        1
    );
    h.key('u');
    assert_eq!(h.s.review.pending.len(), 10);
    assert!(
        h.s.review
            .pending
            .iter()
            .all(|&i| h.s.review.decisions[i as usize].d.verdict == Verdict::Revoke)
    );
    h.key('u');
    assert_eq!(h.s.review.pending.len(), 0);
    h.key('u');
    assert!(h.s.toast.as_ref().unwrap().0.contains("Nothing to undo"));
    h.ctrl('r');
    assert_eq!(h.s.review.pending.len(), 10);
    // Every step is in the audit chain, which verifies.
    let log = h.outside().audit_entries().unwrap();
    assert_eq!(
        log.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
        ["decide", "decide", "undo", "undo", "redo"]
    );
    crate::audit::verify(&log).unwrap();
}

/// `u` pressed before the engine has answered the decision just made undoes that decision,
/// not the one before it (it undid the one before: the batch joined the undo stack only when
/// the engine's answer came).
#[test]
fn undo_right_after_a_decision_undoes_that_decision() {
    let mut h = Harness::with_engine(5);
    h.key('c');
    h.typ("first");
    h.code(KeyCode::Enter);
    h.defer_engine = true;
    h.key('c');
    h.typ("second");
    h.code(KeyCode::Enter);
    // The engine has recorded it but not yet said so.
    h.key('u');
    assert!(
        h.s.toast.as_ref().unwrap().0.contains("Undo waits"),
        "{:?}",
        h.s.toast
    );
    h.defer_engine = false;
    h.flush();
    let ds = h.outside().decisions().unwrap();
    assert_eq!(ds.len(), 2);
    let by = |why: &str| {
        ds.iter()
            .find(|d| d.d.justification.as_deref() == Some(why))
            .unwrap()
    };
    assert!(!by("first").undone, "the first decision stands");
    assert!(by("second").undone, "the second decision is the one undone");
    let said = &h.s.toast.as_ref().unwrap().0;
    assert!(said.starts_with("Undone: 1 decision (batch 2"), "{said}");
}

/// `u` means the decision just made even when another follows before the engine answers:
/// decide A, `u`, decide C; A is undone, C stands.
#[test]
fn a_waiting_undo_undoes_the_decision_it_was_pressed_after() {
    let mut h = Harness::with_engine(5);
    h.defer_engine = true;
    h.key('c');
    h.typ("A");
    h.code(KeyCode::Enter);
    h.key('u');
    h.key('c');
    h.typ("C");
    h.code(KeyCode::Enter);
    h.defer_engine = false;
    h.flush();
    let ds = h.outside().decisions().unwrap();
    let by = |why: &str| {
        ds.iter()
            .find(|d| d.d.justification.as_deref() == Some(why))
            .unwrap()
    };
    assert!(by("A").undone, "A is the one undone");
    assert!(!by("C").undone, "C stands");
}

/// A batch whose revokes a plan has sent cannot be undone from the console: the provider has
/// removed the access, and withdrawing the decision would not bring it back. A plan stored but
/// not sent does not pin it (a resumed plan abandons the withdrawn call).
#[test]
fn undo_refuses_a_batch_a_plan_already_carried_out() {
    let mut h = Harness::with_engine(5);
    h.key('r');
    h.typ("leaked");
    h.code(KeyCode::Enter);
    assert_eq!(h.outside().decisions().unwrap().len(), 1);
    // A plan covers it (as `:apply` or `recert apply` would store), and its call went out.
    let plan = h.store_pending_plan();
    let row = h.outside().journal(plan).unwrap().remove(0);
    h.outside()
        .journal_sent(&row, "rev@example.com", NOW)
        .unwrap();
    h.reload_review();
    h.key('u');
    assert!(
        h.s.toast
            .as_ref()
            .unwrap()
            .0
            .contains(&format!("carried out by plan #{plan}")),
        "{:?}",
        h.s.toast
    );
    assert!(
        !h.outside().decisions().unwrap()[0].undone,
        "the decision stands"
    );
    // Planned but not sent: the undo goes through.
    let mut h = Harness::with_engine(5);
    h.key('r');
    h.typ("leaked");
    h.code(KeyCode::Enter);
    h.store_pending_plan();
    h.reload_review();
    h.key('u');
    assert!(h.outside().decisions().unwrap()[0].undone);
}

#[test]
fn apply_offers_to_resume_an_unfinished_plan_first() {
    let mut h = Harness::with_engine(5);
    h.key('r');
    h.typ("leaked");
    h.code(KeyCode::Enter);
    let plan = h.store_pending_plan();
    h.reload_review();
    h.typ(":apply");
    h.code(KeyCode::Enter);
    assert_eq!(h.s.mode, Mode::Confirm);
    let c = h.s.confirm.as_ref().unwrap();
    assert_eq!(c.purpose, Purpose::Resume(plan));
    assert!(
        c.summary[0].contains(&format!("plan #{plan}")),
        "{:?}",
        c.summary
    );
    h.key('y');
    let left = h.code(KeyCode::Enter);
    assert_eq!(left, vec![Effect::Engine(Command::Resume { plan })]);
    assert_eq!(h.s.applying.as_ref().unwrap().plan, plan);
}

/// `q` while an apply or a sync runs asks again instead of leaving calls sent without an
/// answer behind unseen; the second `q` quits.
#[test]
fn quitting_during_an_apply_asks_first() {
    let mut h = Harness::new(5);
    assert_eq!(h.key('q'), vec![Effect::Quit], "idle: q quits at once");
    h.s.applying = Some(Applying {
        plan: 3,
        ..Default::default()
    });
    assert!(h.key('q').is_empty());
    let said = &h.s.toast.as_ref().unwrap().0;
    assert!(
        said.contains("plan #3") && said.contains("q again"),
        "{said}"
    );
    assert_eq!(h.key('q'), vec![Effect::Quit]);
    h.s.applying = None;
    h.s.sync = Some(Vec::new());
    h.s.quit_armed = None;
    assert!(h.key('q').is_empty());
    assert!(h.s.toast.as_ref().unwrap().0.contains("sync"));
}

/// New audit entries arrive at the top of the audit view: the cursor stays on the entry it
/// was on (it kept its row number, so it slid onto another entry).
#[test]
fn the_audit_cursor_stays_on_its_entry_when_new_ones_arrive() {
    let mut h = Harness::with_engine(5);
    h.certify_each(&["one", "two", "three"]);
    h.key('7');
    h.key('j');
    let seq_under = |h: &Harness| {
        let vs = h.s.vs();
        vs.table.rows[vs.current().unwrap() as usize]
            .cell(0)
            .to_string()
    };
    let before = seq_under(&h);
    h.key('2');
    h.key('c');
    h.typ("four");
    h.code(KeyCode::Enter);
    h.key('7');
    assert_eq!(seq_under(&h), before);
}

/// `decision:` needs a scan of every row (which rows are decided): the filter job carries the
/// data and decisions to the worker instead of the UI thread scanning a million rows.
#[test]
fn a_decision_filter_leaves_the_scan_to_the_worker() {
    let mut h = Harness::new(30);
    h.key('/');
    let effects = h.typ_effects("decision:none");
    let job = effects
        .iter()
        .rev()
        .find_map(|e| match e {
            Effect::Refine(j) => Some((j.query.clone(), j.decided.clone())),
            _ => None,
        })
        .expect("a filter job");
    assert!(job.0.decided.is_none(), "not computed on the UI thread");
    let d = job.1.expect("the worker gets what it needs");
    assert_eq!(d.view, ViewId::Gaps);
    assert!(Arc::ptr_eq(&d.review, &h.s.review));
}

/// Read-only mode refuses every way to a change, not only the decision keys: `:leak`,
/// `:sweep`, `:submit`, `:signoff` and reversing a call.
#[test]
fn read_only_refuses_leak_sweep_and_reverse() {
    let mut h = Harness::new(5);
    h.s.read_only = true;
    for cmd in ["leak key_b", "sweep bob@example.com"] {
        h.typ(&format!(":{cmd}"));
        h.code(KeyCode::Enter);
        assert_ne!(h.s.mode, Mode::Prompt, "{cmd} asked for a reason");
        assert!(
            h.s.toast.as_ref().unwrap().0.contains("Read-only"),
            "{cmd}: {:?}",
            h.s.toast
        );
    }
    h.key('7');
    h.key('R');
    assert!(h.s.toast.as_ref().unwrap().0.contains("Read-only"));
    assert!(h.recorded().is_empty());
}

/// While a plan is being sent nothing else is sent: `R` and a confirmed plan are refused, and
/// `:q` asks first like `q`.
#[test]
fn nothing_else_is_sent_while_a_plan_is_being_sent() {
    let mut h = Harness::new(5);
    h.s.applying = Some(Applying {
        plan: 4,
        ..Default::default()
    });
    h.key('7');
    h.key('R');
    assert!(
        h.s.toast
            .as_ref()
            .unwrap()
            .0
            .contains("Plan #4 is being sent")
    );
    h.s.mode = Mode::Confirm;
    h.s.confirm = Some(Confirm {
        purpose: Purpose::Resume(4),
        summary: vec![],
        steps: vec![],
        calls: 1,
        typed: String::new(),
        need_typing: false,
    });
    h.key('y');
    assert!(h.code(KeyCode::Enter).is_empty());
    assert!(
        h.s.toast
            .as_ref()
            .unwrap()
            .0
            .contains("nothing else is sent")
    );
    h.typ(":q");
    assert!(h.code(KeyCode::Enter).is_empty(), ":q asks first");
}

/// An undo the engine refused puts the batch back on the undo stack, saying why.
#[test]
fn a_refused_undo_leaves_the_batch_undoable() {
    let mut h = Harness::with_engine(5);
    h.key('c');
    h.typ("fine");
    h.code(KeyCode::Enter);
    let b = *h.s.undo.last().unwrap();
    h.s.undo.pop();
    h.s.redo.push(b);
    h.send(Msg::NotUndone {
        batch: b,
        undone: true,
        why: "plan #2 has sent its calls".into(),
    });
    assert_eq!(h.s.undo, vec![b]);
    assert!(h.s.redo.is_empty());
    assert!(h.s.toast.as_ref().unwrap().0.contains("NOT undone"));
}

#[test]
fn escape_cancels_a_decision_and_nothing_is_recorded() {
    let mut h = Harness::new(5);
    h.key('c');
    h.typ("half a thought");
    h.code(KeyCode::Esc);
    assert_eq!(h.s.mode, Mode::Normal);
    assert!(h.recorded().is_empty());
}

/// Ctrl-C in a prompt, a confirmation, the filter bar, the palette or the owner picker cancels
/// it, as in a shell (it did nothing there): nothing is recorded, nothing quits.
#[test]
fn ctrl_c_cancels_what_is_being_typed() {
    let mut h = Harness::with_engine(5);
    h.key('c');
    h.typ("half a thought");
    assert!(!h.ctrl('c').contains(&Effect::Quit));
    assert_eq!(h.s.mode, Mode::Normal, "the prompt is cancelled");
    h.revoke_in_keys("rotated");
    h.command("apply");
    assert_eq!(h.s.mode, Mode::Confirm);
    assert!(!h.ctrl('c').contains(&Effect::Quit));
    assert_eq!(h.s.mode, Mode::Normal, "the confirmation is cancelled");
    for open in ['/', ':'] {
        h.key(open);
        h.typ("abc");
        assert!(!h.ctrl('c').contains(&Effect::Quit));
        assert_eq!(h.s.mode, Mode::Normal, "{open} is cancelled");
    }
    assert!(
        h.outside().all_journal().unwrap().is_empty(),
        "nothing sent"
    );
}

#[test]
fn defer_asks_for_a_date_then_a_reason() {
    let mut h = Harness::new(5);
    h.key('d');
    h.typ("yesterday");
    h.code(KeyCode::Enter);
    assert!(
        h.s.prompt
            .as_ref()
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .contains("YYYY-MM-DD")
    );
    h.ctrl('u');
    h.typ("+30d");
    h.code(KeyCode::Enter);
    assert!(h.s.prompt.as_ref().unwrap().title.contains("2026-12-22"));
    h.typ("owner on leave");
    h.code(KeyCode::Enter);
    let ds = h.recorded();
    assert_eq!(ds[0].until.as_deref(), Some("2026-12-22"));
}

#[test]
fn reassign_picks_an_owner_fuzzily_and_skips_what_cannot_be_owned() {
    let mut h = Harness::with_engine(5);
    h.key('4');
    h.key('o');
    assert_eq!(h.s.mode, Mode::Picker);
    // Bob is inactive: only current people are offered.
    assert_eq!(h.s.picker.as_ref().unwrap().choices.len(), 2);
    h.typ("crl");
    let p = h.s.picker.as_ref().unwrap();
    assert_eq!(p.choices[p.matches[0]].email, "carol@example.com");
    h.code(KeyCode::Enter);
    assert_eq!(h.s.mode, Mode::Prompt);
    h.typ("team lead");
    let effects = h.code(KeyCode::Enter);
    assert!(
        effects.contains(&REJUDGE),
        "a new owner changes findings: judge again at once, not after a restart ({effects:?})"
    );
    let ds = h.outside().decisions().unwrap();
    assert_eq!(ds[0].d.owner.as_deref(), Some("carol@example.com"));
    // Undo and redo change who owns it too.
    assert!(h.key('u').contains(&REJUDGE));
    assert!(
        h.send(Msg::Key(KeyEvent::new(
            KeyCode::Char('r'),
            KeyModifiers::CONTROL
        )))
        .contains(&REJUDGE)
    );
    assert_eq!(ds[0].d.target.kind, "project_key");
    // Accounts have no owner to reassign.
    h.key('2');
    h.key('o');
    assert_eq!(h.s.mode, Mode::Normal);
    assert!(h.s.toast.as_ref().unwrap().0.contains("owners"));
}

/// The Decisions view's WHY column is the reviewer's reason for every verdict, as the detail's
/// `why` is; a reassign's new owner and a deferral's date come before it, not in its place.
#[test]
fn the_decisions_why_column_keeps_the_reason_of_a_reassign() {
    let mut h = Harness::with_engine(5);
    h.key('4');
    h.key('o');
    h.typ("crl");
    h.code(KeyCode::Enter);
    h.typ("team lead");
    h.code(KeyCode::Enter);
    h.key('6');
    let table = h.s.review.tables[&ViewId::Decisions].clone();
    let why = table
        .columns
        .iter()
        .position(|c| c.name == "why")
        .expect("a why column");
    assert_eq!(table.rows[0].cell(why), "→ carol@example.com: team lead");
}

#[test]
fn person_sweep_revokes_everything_they_hold() {
    let mut h = Harness::new(5);
    h.key('3');
    h.key('/');
    h.typ("bob");
    h.code(KeyCode::Enter);
    h.key('x');
    let title = h.s.prompt.as_ref().unwrap().title.clone();
    assert!(
        title.contains("bob@example.com") && title.contains("4 items"),
        "{title}"
    );
    h.typ("left the company");
    h.code(KeyCode::Enter);
    let ds = h.recorded();
    let mut kinds: Vec<&str> = ds.iter().map(|d| d.target.kind.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, ["account", "account", "grant", "project_key"]);
    assert!(ds.iter().all(|d| d.verdict == Verdict::Revoke));
}

#[test]
fn a_preview_shows_the_first_findings_and_holds_marks_and_decisions_until_the_whole_arrives() {
    let whole = sample_data(30);
    let mut digest = whole.dash.clone();
    digest.top.truncate(8);
    let head = Snapshot {
        data: Default::default(),
        ..whole.snapshot.clone()
    };
    let mut h = Harness::new(0);
    h.s.loading = true;
    h.send(Msg::Data(Arc::new(Data::preview(
        head,
        digest,
        Default::default(),
        NOW,
    ))));
    assert!(h.s.loading, "the rest is still loading");
    assert_eq!(h.s.vs().visible.len(), 8);
    assert_eq!(h.subjects()[0], "person000@example.com");
    for c in [' ', 'v', '*', 'c', 'r', 'o', 'd', 'x'] {
        h.key(c);
        assert_eq!(h.s.mode, Mode::Normal, "{c}");
        assert!(h.s.vs().marks.is_empty(), "{c}");
        let toast = &h.s.toast.as_ref().expect("a notice").0;
        assert!(toast.contains("first 8 of 30"), "{c}: {toast}");
    }
    // Moving and filtering work on what is there; the filter runs again on the whole.
    h.key('j');
    assert_eq!(h.s.vs().cursor, 1);
    h.key('/');
    h.typ("person029");
    h.code(KeyCode::Enter);
    assert_eq!(h.s.vs().visible.len(), 0, "none of the first 8 match");
    // Had the whole failed, the preview stays, says so, and still holds marks back.
    let mut failed = Harness::new(0);
    let mut digest = whole.dash.clone();
    digest.top.truncate(8);
    failed.send(Msg::Data(Arc::new(Data::preview(
        Snapshot {
            data: Default::default(),
            ..whole.snapshot.clone()
        },
        digest,
        Default::default(),
        NOW,
    ))));
    failed.send(Msg::LoadFailed("database disk image is malformed".into()));
    assert!(!failed.s.loading);
    let toast = failed.s.toast.clone().unwrap().0;
    assert!(
        toast.contains("malformed") && toast.contains(":sync"),
        "{toast}"
    );
    failed.key(' ');
    let toast = failed.s.toast.clone().unwrap().0;
    assert!(toast.contains("could not be loaded"), "{toast}");
    assert!(failed.s.vs().marks.is_empty());

    h.send(Msg::Data(Arc::new(whole)));
    assert!(!h.s.loading);
    assert_eq!(h.subjects(), vec!["person029@example.com".to_string()]);
    h.key(' ');
    assert_eq!(h.s.vs().marks.count(), 1);
    assert!(h.recorded().is_empty());
}

#[test]
fn read_only_refuses_every_decision_key_and_says_why() {
    let mut h = Harness::new(5);
    h.s.read_only = true;
    for c in ['c', 'r', 'o', 'd', 'u'] {
        h.key(c);
        assert_eq!(h.s.mode, Mode::Normal, "{c}");
        assert!(h.s.toast.as_ref().unwrap().0.contains("Read-only"), "{c}");
    }
    h.key('3');
    h.key('x');
    assert_eq!(h.s.mode, Mode::Normal);
    h.ctrl('r');
    assert!(h.recorded().is_empty());
}

#[test]
fn command_palette_completes_fuzzily_and_switches_views() {
    let mut h = Harness::new(5);
    h.key(':');
    assert_eq!(h.s.mode, Mode::Command);
    h.typ("rsrc");
    assert_eq!(h.s.palette()[0].0, "resources");
    h.code(KeyCode::Tab);
    assert_eq!(h.s.input, "resources ");
    h.code(KeyCode::Enter);
    assert_eq!(h.s.view, ViewId::Resources);
    h.command("dec");
    assert_eq!(h.s.view, ViewId::Decisions);
    h.key(':');
    h.typ("sync");
    let effects = h.code(KeyCode::Enter);
    assert!(effects.contains(&Effect::Engine(Command::Sync)));
    assert!(h.s.sync.is_some());
    h.command("zzzz");
    assert!(h.s.toast.as_ref().unwrap().0.contains("no command"));
    // The sync started above is still running: `:q` asks first, a second `:q` quits.
    h.key(':');
    h.typ("q");
    assert!(h.code(KeyCode::Enter).is_empty());
    assert!(h.s.toast.as_ref().unwrap().0.contains("A sync is running"));
    h.key(':');
    h.typ("q");
    assert!(h.code(KeyCode::Enter).contains(&Effect::Quit));
}

#[test]
fn sync_results_become_a_toast_and_the_log() {
    let mut h = Harness::new(5);
    // A tick with no sync running (a late one) opens nothing.
    h.send(Msg::SyncProgress(Vec::new()));
    assert!(h.s.sync.is_none());
    h.typ(":sync");
    h.code(KeyCode::Enter);
    h.send(Msg::SyncProgress(vec![SourceProgress {
        source: "openai".into(),
        requests: 3,
        done: None,
    }]));
    assert_eq!(h.s.sync.as_ref().unwrap().len(), 1);
    h.send(Msg::SyncDone {
        ok: false,
        lines: vec!["openai: FAILED after 3 requests: 500".into()],
    });
    assert!(h.s.sync.is_none());
    let t = h.s.toast.clone().unwrap();
    assert_eq!(t.1, Level::Error);
    assert!(t.0.contains("openai: FAILED"));
    assert!(h.s.log.iter().any(|l| l.contains("FAILED after 3")));
    h.send(Msg::Tick { now_ms: 60_000 });
    assert!(h.s.toast.is_none(), "toasts expire");
}

#[test]
fn help_quit_and_views_by_number() {
    let mut h = Harness::new(3);
    h.key('?');
    assert_eq!(h.s.mode, Mode::Help);
    assert!(h.key('q').is_empty(), "q closes help, it does not quit");
    assert_eq!(h.s.mode, Mode::Normal);
    for (c, v) in [
        ('1', ViewId::Dash),
        ('5', ViewId::Resources),
        ('7', ViewId::Audit),
    ] {
        h.key(c);
        assert_eq!(h.s.view, v);
    }
    h.code(KeyCode::Tab);
    assert_eq!(h.s.view, ViewId::Dash);
    assert!(h.key('q').contains(&Effect::Quit));
}

#[test]
fn apply_shows_the_plan_and_needs_the_call_count_typed_above_the_threshold() {
    let mut h = Harness::with_engine(5);
    h.s.confirm_threshold = 1;
    h.command("apply");
    assert!(h.s.toast.as_ref().unwrap().0.contains("Nothing to apply"));
    // Two revokes on keys: two DELETE calls.
    h.key('4');
    h.key(' ');
    h.key(' ');
    h.key('r');
    h.typ("rotated");
    h.code(KeyCode::Enter);
    h.command("apply");
    assert_eq!(h.s.mode, Mode::Confirm);
    let c = h.s.confirm.as_ref().unwrap();
    assert_eq!(c.calls, 2);
    assert!(c.need_typing);
    assert!(c.steps.iter().all(|s| {
        s.step
            .line()
            .starts_with("DELETE /organization/projects/proj_1/api_keys/")
    }));
    // `y` is not enough above the threshold; the count is.
    h.key('y');
    assert!(h.code(KeyCode::Enter).is_empty());
    assert_eq!(h.s.mode, Mode::Confirm);
    h.key('2');
    let effects = h.code(KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::Engine(Command::Apply { steps, .. })] if steps.len() == 2),
        "{effects:?}"
    );
    assert!(h.s.applying.is_some());
    h.send(Msg::ApplyDone {
        ok: false,
        lines: vec![
            "plan #1: 1 calls done, 1 failed, 0 manual steps".into(),
            "FAILED #2: ...".into(),
        ],
    });
    assert!(h.s.applying.is_none());
    assert_eq!(h.s.toast.as_ref().unwrap().1, Level::Error);
    assert!(h.s.log.iter().any(|l| l.starts_with("FAILED #2")));
}

#[test]
fn apply_below_the_threshold_takes_y_and_escape_sends_nothing() {
    let mut h = Harness::with_engine(5);
    h.revoke_in_keys("unused");
    h.command("apply");
    assert!(!h.s.confirm.as_ref().unwrap().need_typing);
    h.code(KeyCode::Esc);
    assert_eq!(h.s.mode, Mode::Normal);
    assert!(h.s.toast.as_ref().unwrap().0.contains("nothing was sent"));
    h.command("apply");
    h.key('y');
    assert!(matches!(
        h.code(KeyCode::Enter).as_slice(),
        [Effect::Engine(Command::Apply { .. })]
    ));
    // Read-only refuses to even plan.
    let mut h = Harness::with_engine(5);
    h.s.read_only = true;
    h.command("apply");
    assert_eq!(h.s.mode, Mode::Normal);
    assert!(h.s.toast.as_ref().unwrap().0.contains("Read-only"));
}

#[test]
fn leak_finds_a_key_by_its_secret_and_stages_its_revoke_without_showing_the_secret() {
    let mut h = Harness::new(5);
    h.command("leak sk-...SECRETPARTabcd");
    // All three sample keys share the redacted form: ambiguous, nothing staged.
    assert!(h.s.toast.as_ref().unwrap().0.contains("3 keys"));
    assert_eq!(h.s.mode, Mode::Normal);
    h.command("leak key_b");
    assert_eq!(h.s.view, ViewId::Keys);
    assert_eq!(h.s.mode, Mode::Prompt);
    // Not filtered by the id (no column holds it: that showed nothing behind the prompt):
    // every key is shown, the leaked one marked, and the facts said as `revoke --key` says them.
    assert_eq!(h.s.vs().filter, "");
    let d = &h.s.data.snapshot.data;
    let i = d.credentials.iter().position(|c| c.id == "key_b").unwrap();
    let row =
        h.s.vs()
            .table
            .rows
            .iter()
            .position(|r| r.item == i as u32)
            .unwrap() as u32;
    assert!(h.s.vs().visible.contains(&row), "the key's row is shown");
    assert!(h.s.vs().marks.ids.contains(&row));
    let facts = crate::engine::incident::KeyFacts::of(d, &d.credentials[i]);
    assert_eq!(h.s.toast.as_ref().unwrap().0, facts.lines().join(" · "));
    h.typ("posted in a public issue");
    h.code(KeyCode::Enter);
    let ds = h.recorded();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].target.id, "key_b");
    assert_eq!(ds[0].rule.as_deref(), Some("leaked-key"));
    // The palette input is not kept anywhere.
    assert!(h.s.input.is_empty());
}

#[test]
fn sweep_command_finds_the_person_and_stages_everything() {
    let mut h = Harness::new(5);
    h.command("sweep BOB@example.com");
    assert_eq!(h.s.view, ViewId::People);
    assert_eq!(h.s.mode, Mode::Prompt);
    h.typ("left");
    h.code(KeyCode::Enter);
    assert_eq!(h.recorded().len(), 4);
    h.command("sweep nobody@example.com");
    assert!(
        h.s.toast
            .as_ref()
            .unwrap()
            .0
            .contains("No directory person")
    );
}

#[test]
fn an_anthropic_key_set_inactive_can_be_reactivated_from_the_audit_view() {
    use crate::remediate::{PlannedStep, RowState, Step};
    let mut h = Harness::with_engine(3);
    let call = |body: &str| PlannedStep {
        decisions: vec![],
        step: Step::Call {
            source: "anthropic".into(),
            method: "POST",
            path: "/v1/organizations/api_keys/apikey_1".into(),
            body: Some(serde_json::from_str(body).unwrap()),
            note: None,
        },
    };
    let plan = h
        .outside()
        .create_plan(&[call(r#"{"status":"inactive"}"#)], "r", None, NOW)
        .unwrap();
    let row = h.outside().journal(plan).unwrap().remove(0);
    h.outside().journal_sent(&row, "r", NOW).unwrap();
    h.outside()
        .journal_result(&row, RowState::Done, Some(200), "ok", "r", NOW)
        .unwrap();
    h.reload_review();
    h.key('7');
    // Newest first: the result of the call.
    h.key('R');
    assert_eq!(h.s.mode, Mode::Confirm);
    let c = h.s.confirm.as_ref().unwrap();
    assert_eq!(
        c.steps[0].step.line(),
        "POST /v1/organizations/api_keys/apikey_1 on anthropic {\"status\":\"active\"} (reverses plan #1 call #1)"
    );
    h.key('y');
    let steps = match h.code(KeyCode::Enter).as_slice() {
        [Effect::Engine(Command::Apply { steps, .. })] => steps.clone(),
        other => panic!("{other:?}"),
    };
    // Once the reversal is done (its run over), `R` on the call says so instead of offering
    // it again, and the remediation reads "reversed", not "done".
    h.send(Msg::ApplyDone {
        ok: true,
        lines: vec![],
    });
    let back = h.outside().create_plan(&steps, "r", None, NOW).unwrap();
    let row2 = h.outside().journal(back).unwrap().remove(0);
    h.outside().journal_sent(&row2, "r", NOW).unwrap();
    h.outside()
        .journal_result(&row2, RowState::Done, Some(200), "ok", "r", NOW)
        .unwrap();
    h.reload_review();
    let states = crate::tui::data::remediation_states(&h.s.review.journal);
    assert!(
        states.is_empty(),
        "no decision rides on these calls: {states:?}"
    );
    let mut rows = h.s.review.journal.clone();
    for r in rows.iter_mut() {
        r.decisions = vec![7];
    }
    assert_eq!(
        crate::tui::data::remediation_states(&rows)[&7],
        format!("reversed, HTTP 200 (plan {back})")
    );
    let entry =
        h.s.review
            .audit
            .iter()
            .rposition(|e| e.detail.contains(&format!("\"plan\":{plan}")) && e.event == "result")
            .expect("the first call's result entry");
    let row_id =
        h.s.vs()
            .table
            .rows
            .iter()
            .position(|r| r.item as usize == entry)
            .unwrap();
    let at =
        h.s.vs()
            .visible
            .iter()
            .position(|&v| v as usize == row_id)
            .unwrap();
    h.s.vs_mut().cursor = at;
    h.key('R');
    assert_eq!(h.s.mode, Mode::Normal);
    assert!(
        h.s.toast
            .as_ref()
            .unwrap()
            .0
            .contains(&format!("reversed already, by plan #{back}")),
        "{:?}",
        h.s.toast
    );
    // A deletion cannot be reversed.
    let mut h = Harness::with_engine(3);
    let plan = h
        .outside()
        .create_plan(
            &[PlannedStep {
                decisions: vec![],
                step: Step::Call {
                    source: "openai".into(),
                    method: "DELETE",
                    path: "/organization/users/u1".into(),
                    body: None,
                    note: None,
                },
            }],
            "r",
            None,
            NOW,
        )
        .unwrap();
    let row = h.outside().journal(plan).unwrap().remove(0);
    h.outside()
        .journal_result(&row, RowState::Done, Some(200), "ok", "r", NOW)
        .unwrap();
    h.reload_review();
    h.key('7');
    h.key('R');
    assert_eq!(h.s.mode, Mode::Normal);
    assert!(h.s.toast.as_ref().unwrap().0.contains("cannot undo"));
}

/// A harness on a campaign over the sample organisation, every item routed to
/// rev@example.com, the console on its queue.
pub fn campaign_harness() -> Harness {
    campaign_harness_as("rev@example.com")
}

/// The campaign of [`campaign_harness`] with the console opened by `reviewer`.
pub fn campaign_harness_as(reviewer: &str) -> Harness {
    use crate::review::campaign::{Inputs, Routing, Scope, freeze};
    Harness::with_store(3, |store| {
        let data = sample_data(3);
        let d = &data.snapshot.data;
        let findings = crate::reconcile::reconcile(d, &crate::reconcile::Context::at(NOW));
        let routing = Routing {
            fallback: Some("rev@example.com".into()),
            ..Default::default()
        };
        let items = freeze(&Inputs {
            data: d,
            findings: &findings,
            rules: &Default::default(),
            now: NOW,
            owners: &Default::default(),
            scope: &Scope::default(),
            routing: &routing,
            earlier: None,
            carry_forward: false,
        });
        assert_eq!(items.len(), 4, "one membership and three keys");
        let id = store
            .create_campaign(
                &crate::review::campaign::NewCampaign {
                    name: "Q4",
                    snapshot_id: 1,
                    due: "2026-12-01",
                    scope: &Scope::default(),
                    routing: &routing,
                    on_close: Default::default(),
                    since: None,
                },
                &items,
                "admin@example.com",
                NOW,
            )
            .unwrap();
        Some(crate::tui::CampaignQueue {
            id,
            name: "Q4".into(),
            due: "2026-12-01".into(),
            snapshot_id: 1,
            reviewer: reviewer.into(),
            groups: Vec::new(),
            people: Arc::new(crate::review::campaign::People::new(
                &d.people,
                &crate::reconcile::Directory::new(&d.people, &Default::default()),
            )),
        })
    })
}

/// Submitting a staged reassign judges the snapshot again (the owner changed), as a reassign
/// outside a campaign does.
#[test]
fn submitting_a_reassign_in_a_campaign_judges_again() {
    let mut h = campaign_harness();
    // The first item a reassign applies to (a key or a service account).
    for _ in 0..4 {
        h.key('o');
        if h.s.mode == Mode::Picker {
            break;
        }
        h.key('j');
    }
    assert_eq!(h.s.mode, Mode::Picker, "an item takes an owner");
    h.typ("crl");
    h.code(KeyCode::Enter);
    h.typ("Carol runs it now");
    h.code(KeyCode::Enter);
    h.typ(":submit");
    h.code(KeyCode::Enter);
    // The batch shown names the new owner.
    let c = h.s.confirm.as_ref().unwrap();
    assert!(
        c.summary
            .iter()
            .any(|l| l.contains("reassign") && l.contains("→ carol@example.com")),
        "{:?}",
        c.summary
    );
    h.key('y');
    let left = h.code(KeyCode::Enter);
    assert!(left.contains(&REJUDGE), "{left:?}");
    assert_eq!(
        h.outside().decisions().unwrap()[0].d.verdict,
        Verdict::Reassign
    );
}

/// A refused delegation changes nothing, the marks included: the reviewer can correct the
/// name and try again.
#[test]
fn a_refused_delegation_keeps_the_marks() {
    let mut h = campaign_harness();
    h.key(' ');
    h.key(' ');
    assert_eq!(h.s.vs().marks.count(), 2);
    h.typ(":delegate nobody-we-know@example.com they know it");
    h.code(KeyCode::Enter);
    assert_eq!(
        h.s.toast.as_ref().unwrap().1,
        Level::Error,
        "{:?}",
        h.s.toast
    );
    assert_eq!(h.s.vs().marks.count(), 2, "the marks stay");
}

/// When the item under the cursor leaves the queue (delegated away), the cursor stays at its
/// place, on the item that took it, not one further down.
#[test]
fn after_a_delegation_the_cursor_is_on_the_next_item() {
    let mut h = campaign_harness();
    h.key('j');
    let seq_at = |h: &Harness| {
        let vs = h.s.vs();
        vs.table.rows[vs.current().unwrap() as usize]
            .cell(0)
            .to_string()
    };
    let order: Vec<String> = {
        let vs = h.s.vs();
        vs.visible
            .iter()
            .map(|&r| vs.table.rows[r as usize].cell(0).to_string())
            .collect()
    };
    assert_eq!(seq_at(&h), order[1]);
    h.typ(":delegate carol@example.com Carol runs that project");
    h.code(KeyCode::Enter);
    assert!(!h.s.vs().visible.is_empty());
    assert_eq!(seq_at(&h), order[2], "the item that took its place");
}

/// `:delegate` hands over the queue's rows under the cursor or marked: like marks and
/// decisions, it waits for the rows a filter asked for (it handed over the row from before).
#[test]
fn delegate_waits_for_the_rows_a_filter_asked_for() {
    let mut h = campaign_harness();
    h.defer_refine = true;
    h.key('/');
    h.typ("zzz");
    h.code(KeyCode::Enter);
    h.typ(":delegate carol@example.com Carol runs that project");
    h.code(KeyCode::Enter);
    let delegated = |h: &Harness| {
        h.sent
            .iter()
            .any(|c| matches!(c, Command::Campaign(Act::Delegate { .. })))
    };
    assert!(
        !delegated(&h),
        "nothing handed over from the rows before the filter"
    );
    let toast = h.s.toast.as_ref().expect("says why").0.clone();
    assert!(toast.starts_with("Rows still updating"), "{toast}");
    h.defer_refine = false;
    h.flush();
    assert!(h.s.vs().visible.is_empty(), "the filter matches nothing");
}

#[test]
fn a_campaign_queue_stages_submits_delegates_and_signs_off() {
    let mut h = campaign_harness();
    let id = h.campaign.as_ref().unwrap().id;
    assert_eq!(h.s.vs().visible.len(), 4);
    // Certify the first item: staged, not a decision yet.
    h.key('c');
    h.typ("still needed");
    h.code(KeyCode::Enter);
    let items = h.outside().campaign_items(id).unwrap();
    assert!(items[0].staged.is_some() && items[0].outcome.is_none());
    assert!(h.outside().decisions().unwrap().is_empty());
    assert!(
        h.s.toast
            .as_ref()
            .unwrap()
            .0
            .contains("Staged certify on 1")
    );
    // :submit shows the batch and records it only after y.
    h.typ(":submit");
    h.code(KeyCode::Enter);
    assert_eq!(h.s.mode, Mode::Confirm);
    let c = h.s.confirm.as_ref().unwrap();
    assert!(
        c.summary[0].contains("1 decision in campaign Q4: certify 1"),
        "{:?}",
        c.summary
    );
    h.key('y');
    h.code(KeyCode::Enter);
    let ds = h.outside().decisions().unwrap();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].reviewer, "rev@example.com");
    assert_eq!(
        h.outside().campaign_items(id).unwrap()[0]
            .outcome
            .as_deref(),
        Some("certify")
    );
    let burndown = h.s.review.queue.as_ref().unwrap().burndown(h.s.today);
    assert!(
        burndown.contains("1/4 done") && burndown.contains("due in 9 days"),
        "{burndown}"
    );
    let mut closed = h.s.review.queue.clone().unwrap();
    closed.closed = true;
    let b = closed.burndown(h.s.today);
    assert!(b.ends_with("staged · CLOSED") && !b.contains("due"), "{b}");
    // Delegating an item to its own holder would be self-review: refused. (The decision
    // moved the cursor on to item 2.)
    let holder = {
        let vs = h.s.vs();
        vs.table.rows[vs.current().unwrap() as usize]
            .cell(2)
            .to_string()
    };
    h.typ(&format!(":delegate {holder} they know it best"));
    h.code(KeyCode::Enter);
    assert!(
        h.s.toast.as_ref().unwrap().0.contains("self-review"),
        "{holder}"
    );
    assert!(h.outside().delegations(id).unwrap().is_empty());
    // Delegate it to someone else: it leaves this queue.
    h.typ(":delegate carol@example.com Carol runs that project");
    h.code(KeyCode::Enter);
    assert_eq!(h.s.review.queue.as_ref().unwrap().items.len(), 3);
    assert_eq!(h.outside().delegations(id).unwrap().len(), 1);
    // Sign off with items undecided: confirmed, then every decision key is refused.
    h.typ(":signoff");
    h.code(KeyCode::Enter);
    assert!(h.s.confirm.as_ref().unwrap().summary[1].contains("2 items are undecided"));
    h.key('y');
    h.code(KeyCode::Enter);
    assert_eq!(h.outside().sign_offs(id).unwrap().len(), 1);
    h.key('r');
    assert!(h.s.toast.as_ref().unwrap().0.contains("signed off"));
    assert_eq!(h.s.mode, Mode::Normal);
    let events: Vec<String> = h
        .outside()
        .audit_entries()
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        events,
        [
            "campaign.create",
            "campaign.submit",
            "campaign.delegate",
            "campaign.signoff"
        ]
    );
}

#[test]
fn group_sorts_the_queue_by_person_or_resource() {
    let mut h = campaign_harness();
    h.typ(":group person");
    h.code(KeyCode::Enter);
    let people: Vec<String> = {
        let vs = h.s.vs();
        vs.visible
            .iter()
            .map(|&i| vs.table.rows[i as usize].cell(2).to_string())
            .collect()
    };
    let mut sorted = people.clone();
    sorted.sort();
    assert_eq!(people, sorted);
    h.typ(":group nonsense");
    h.code(KeyCode::Enter);
    assert!(
        h.s.toast
            .as_ref()
            .unwrap()
            .0
            .contains("group person|resource")
    );
}

#[test]
fn marks_follow_their_rows_into_a_new_snapshot_and_the_gone_ones_are_counted() {
    let mut h = Harness::new(9);
    // Mark the first three findings (rows 0, 1, 2 in Gaps order).
    for _ in 0..3 {
        h.key(' ');
    }
    let marked = |h: &Harness| -> Vec<String> {
        let vs = h.s.vs();
        let mut ids: Vec<String> = vs
            .marks
            .ids
            .iter()
            .map(|&i| h.s.data.findings[i as usize].subject_id.to_string())
            .collect();
        ids.sort();
        ids
    };
    let before = marked(&h);
    assert_eq!(before.len(), 3);
    // The next snapshot: the same findings in another order, and one marked finding gone.
    let mut findings = sample_findings(9);
    findings.reverse();
    findings.retain(|f| f.subject_id != before[1].as_str());
    let d = sample_data(0);
    let d = Data::new(
        d.snapshot.clone(),
        findings,
        crate::reconcile::Context::at(NOW),
    );
    h.send(Msg::Data(Arc::new(d)));
    let after = marked(&h);
    assert_eq!(after, vec![before[0].clone(), before[2].clone()]);
    let toast = h.s.toast.clone().unwrap().0;
    assert!(toast.contains("2 of 3 marks kept"), "{toast}");
    // Everything marked survives a snapshot that still has it all.
    let again = sample_data(9);
    h.send(Msg::Data(Arc::new(again)));
    assert_eq!(h.s.vs().marks.count(), 2);
    assert!(h.s.toast.clone().unwrap().0.contains("all 2 marks kept"));
}

/// Finding the cursor's object and the marked ones again in a new snapshot is a scan of the
/// new table: the filter worker does it (the job carries what to look for) and its answer
/// puts the cursor and the marks back; `update` itself never scans.
#[test]
fn a_new_snapshot_is_searched_for_the_cursor_and_marks_on_the_worker() {
    let mut h = Harness::new(9);
    h.key('j');
    h.key(' ');
    h.key(' ');
    let under = {
        let vs = h.s.vs();
        h.s.data.findings[vs.table.rows[vs.current().unwrap() as usize].item as usize]
            .subject_id
            .clone()
    };
    let mut findings = sample_findings(9);
    findings.reverse();
    let d = sample_data(0);
    let d = Data::new(
        d.snapshot.clone(),
        findings,
        crate::reconcile::Context::at(NOW),
    );
    h.defer_refine = true;
    let effects = update(&mut h.s, Msg::Data(Arc::new(d)));
    let job = effects
        .iter()
        .find_map(|e| match e {
            Effect::Refine(Refine {
                view: ViewId::Gaps,
                relocate,
                ..
            }) => Some(relocate.clone()),
            _ => None,
        })
        .expect("a job for Gaps");
    assert!(job.is_some(), "the job carries what to find again");
    assert!(h.s.vs().marks.is_empty(), "not searched on the UI thread");
    // The worker's answer brings them back.
    h.defer_refine = false;
    for e in effects {
        h.run_effect(e);
    }
    assert_eq!(h.s.vs().marks.count(), 2);
    let vs = h.s.vs();
    let now_under =
        &h.s.data.findings[vs.table.rows[vs.current().unwrap() as usize].item as usize].subject_id;
    assert_eq!(*now_under, under, "the cursor is on the same finding");
    assert!(h.s.toast.clone().unwrap().0.contains("all 2 marks kept"));
}

#[test]
fn a_decision_filter_follows_decisions_as_they_are_made_and_undone() {
    let mut h = Harness::with_engine(9);
    let filter = |h: &mut Harness, text: &str| {
        h.code(KeyCode::Esc);
        h.code(KeyCode::Esc);
        h.key('/');
        h.typ(text);
        h.code(KeyCode::Enter);
        h.subjects()
    };
    assert_eq!(filter(&mut h, "decision:none").len(), 9);
    // Revoke the first row, certify the second.
    h.code(KeyCode::Esc);
    h.key('r');
    h.typ("left");
    h.code(KeyCode::Enter);
    h.key('j');
    h.key('c');
    h.typ("fine");
    h.code(KeyCode::Enter);
    assert_eq!(h.s.review.pending.len(), 2);
    let revoked = filter(&mut h, "decision:rev");
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(filter(&mut h, "decision:any").len(), 2);
    assert_eq!(filter(&mut h, "!decision:none").len(), 2);
    // The filter stays on while deciding: certifying the revoked one moves it.
    let undecided = filter(&mut h, "decision:none");
    assert_eq!(undecided.len(), 7);
    let still = filter(&mut h, "decision:revoke");
    assert_eq!(still, revoked);
    h.key('c');
    h.typ("owner vouched");
    h.code(KeyCode::Enter);
    assert!(h.subjects().is_empty(), "{:?}", h.subjects());
    // Undo brings it back, with the filter still on.
    h.key('u');
    assert_eq!(h.subjects(), revoked);
    // An unknown or ambiguous value, or a view without decisions, says so.
    filter(&mut h, "decision:re");
    assert!(
        h.s.vs()
            .error
            .as_ref()
            .unwrap()
            .contains("a prefix will do")
    );
    h.key('3');
    filter(&mut h, "decision:none");
    assert!(
        h.s.vs()
            .error
            .as_ref()
            .unwrap()
            .contains("Gaps, Keys, Resources and the campaign queue")
    );
}

/// The reviewer's flow in the queue: a decision on one row moves on to the next open row;
/// `u` un-stages (the row under the cursor, or the marked ones); `decision:none` and
/// `state:none` both show only what is left.
#[test]
fn the_queue_moves_on_after_a_decision_unstages_with_u_and_filters_what_is_left() {
    let mut h = campaign_harness();
    let id = h.campaign.as_ref().unwrap().id;
    assert_eq!(h.s.vs().cursor, 0);
    let certify_first = |h: &mut Harness| {
        h.key('g');
        h.key('c');
        h.typ("still needed");
        h.code(KeyCode::Enter);
    };
    // `u`, and the first item is back to undecided.
    let unstages_first = |h: &mut Harness| {
        h.key('u');
        assert!(
            h.s.toast.as_ref().unwrap().0.contains("Un-staged item 1:"),
            "{:?}",
            h.s.toast
        );
        assert!(h.outside().campaign_items(id).unwrap()[0].staged.is_none());
    };
    certify_first(&mut h);
    assert_eq!(h.s.vs().cursor, 1, "on to the next open row");
    assert!(h.outside().campaign_items(id).unwrap()[0].staged.is_some());
    // The cursor moved on (or a `decision:none` filter hid the row): u un-stages the last
    // staging all the same, once.
    unstages_first(&mut h);
    h.key('u');
    assert!(
        h.s.toast
            .as_ref()
            .unwrap()
            .0
            .contains("Nothing staged here")
    );
    certify_first(&mut h);
    for filter in ["decision:none", "state:none"] {
        h.key('/');
        h.typ(filter);
        h.code(KeyCode::Enter);
        assert_eq!(h.s.vs().visible.len(), 3, "{filter}: {:?}", h.s.vs().error);
        h.code(KeyCode::Esc);
    }
    // Back on the staged row: u un-stages it.
    h.key('g');
    unstages_first(&mut h);
    // Marked rows un-stage together.
    h.key(' ');
    h.key('j');
    h.key(' ');
    h.key('r');
    h.typ("left");
    h.code(KeyCode::Enter);
    let staged = |h: &Harness| {
        h.outside()
            .campaign_items(id)
            .unwrap()
            .iter()
            .filter(|i| i.staged.is_some())
            .count()
    };
    assert_eq!(staged(&h), 2);
    // Space marks and moves down: rows 1 and 3 are the staged ones.
    h.key('g');
    h.key(' ');
    h.key('j');
    h.key(' ');
    h.key('u');
    assert_eq!(staged(&h), 0, "{:?}", h.s.toast);
}

/// What lazygit and k9s users reach for: Shift-Tab goes back a view, `y` copies the row's
/// id, Ctrl-w deletes one word of the filter (Ctrl-u clears it).
#[test]
fn shift_tab_goes_back_y_copies_the_id_and_ctrl_w_deletes_a_word() {
    let mut h = Harness::new(30);
    h.key('4');
    assert_eq!(h.s.view, ViewId::Keys);
    h.code(KeyCode::BackTab);
    assert_eq!(h.s.view, ViewId::People);
    h.code(KeyCode::Tab);
    assert_eq!(h.s.view, ViewId::Keys);

    let id = {
        let vs = h.s.vs();
        let row = vs.row(vs.current().unwrap()).unwrap();
        h.s.data.target(ViewId::Keys, row.item).unwrap().0.id
    };
    let effects = h.key('y');
    assert!(
        matches!(effects.as_slice(), [Effect::Copy(x)] if *x == id),
        "{effects:?}"
    );
    assert!(h.s.toast.as_ref().unwrap().0.contains(&id));

    h.key('/');
    h.typ("provider:openai nobody");
    h.ctrl('w');
    assert_eq!(h.s.vs().filter, "provider:openai ");
    h.ctrl('w');
    assert_eq!(h.s.vs().filter, "");
    h.typ("a b");
    h.ctrl('u');
    assert_eq!(h.s.vs().filter, "");
}

/// `:sweep EMAIL` on a person far down the People view brings their row on screen.
#[test]
fn a_sweep_shows_the_persons_row_on_screen() {
    let mut h = Harness::new(40);
    // A page of one row: any person but the first is off the first page.
    h.send(Msg::Resize { rows: 1, width: 0 });
    let email =
        h.s.data
            .snapshot
            .data
            .people
            .iter()
            .rev()
            .find_map(|p| p.emails.first().cloned())
            .unwrap();
    h.key(':');
    h.typ(&format!("sweep {email}"));
    h.code(KeyCode::Enter);
    assert_eq!(h.s.view, ViewId::People);
    let vs = h.s.vs();
    let page = h.s.page.max(1);
    assert!(
        vs.cursor >= page,
        "far down: row {} of a page of {page}",
        vs.cursor
    );
    assert!(
        vs.cursor >= vs.offset && vs.cursor < vs.offset + page,
        "cursor {} outside rows {}..{}",
        vs.cursor,
        vs.offset,
        vs.offset + page
    );
    let row = vs.row(vs.current().unwrap()).unwrap();
    assert!(
        row.cells().any(|c| c.contains(&email)),
        "{:?}",
        row.cells().collect::<Vec<_>>()
    );
}

/// A decided row shows what became of it: the worst state of the calls that carry it, with
/// the provider's status and reason, and its plan; a revoke no plan covers says so.
#[test]
fn each_decision_shows_its_remediation_state() {
    use crate::remediate::{JournalRow, RowState};
    let row =
        |plan: i64, seq: i64, ds: Vec<i64>, state: RowState, status: Option<i64>| JournalRow {
            plan,
            seq,
            decisions: ds,
            source: "openai".into(),
            kind: "call".into(),
            method: Some("DELETE".into()),
            path: Some(format!("/v1/x/{seq}")),
            body: None,
            note: None,
            state,
            attempts: 1,
            status,
            result: (state == RowState::Failed).then(|| "insufficient permissions".into()),
            updated_at: NOW,
        };
    let states = crate::tui::data::remediation_states(&[
        row(1, 1, vec![10], RowState::Done, Some(200)),
        row(1, 2, vec![11, 12], RowState::Done, Some(204)),
        row(1, 3, vec![12], RowState::Failed, Some(403)),
        row(2, 1, vec![13], RowState::Sent, None),
        row(2, 2, vec![14], RowState::Manual, None),
    ]);
    assert_eq!(states[&10], "done, HTTP 200 (plan 1)");
    assert_eq!(states[&11], "done, HTTP 204 (plan 1)");
    assert_eq!(
        states[&12], "failed, HTTP 403: insufficient permissions (plan 1)",
        "a failure shows before what went well"
    );
    assert_eq!(states[&13], "sent, no answer yet (plan 2)");
    assert_eq!(states[&14], "manual step (plan 2)");

    // In the console: a revoke decided but not applied says so in the Decisions view.
    let mut h = Harness::with_engine(5);
    h.key('r');
    h.typ("gone");
    h.code(KeyCode::Enter);
    h.key('6');
    let t = h.s.vs().table.clone();
    let col = t
        .columns
        .iter()
        .position(|c| c.name == "remediation")
        .unwrap();
    assert_eq!(t.rows[0].cell(col), "not applied yet");
}

/// `Enter` opens what a row is about and `Esc` walks back, k9s-style: a key to the person who
/// answers for it (or its project), a person to every finding about them.
#[test]
fn enter_drills_in_and_esc_walks_back() {
    let mut h = Harness::new(5);
    h.key('4');
    let first = |h: &Harness| {
        h.s.vs()
            .row(h.s.current().unwrap())
            .unwrap()
            .cell(0)
            .to_string()
    };
    assert_eq!(first(&h), "alice-ci");
    h.code(KeyCode::Enter);
    assert_eq!(h.s.view, ViewId::People);
    assert_eq!(first(&h), "alice@example.com", "the key's owner");
    assert_eq!(h.s.crumbs.len(), 1);
    // A person: every finding about them, as a filter on Gaps.
    h.code(KeyCode::Enter);
    assert_eq!(h.s.view, ViewId::Gaps);
    assert_eq!(h.s.vs().filter, "subject:alice@example.com");
    assert_eq!(h.s.crumbs.len(), 2);
    // Esc walks back: Gaps unfiltered again, People, then Keys on the same row.
    h.code(KeyCode::Esc);
    assert_eq!(h.s.view, ViewId::People);
    assert_eq!(h.s.view_state(ViewId::Gaps).filter, "");
    h.code(KeyCode::Esc);
    assert_eq!(h.s.view, ViewId::Keys);
    assert_eq!(first(&h), "alice-ci");
    assert!(h.s.crumbs.is_empty());
    // A key nobody answers for opens its project.
    h.key('G');
    assert_eq!(first(&h), "nobody");
    h.code(KeyCode::Enter);
    assert_eq!(h.s.view, ViewId::Resources);
    assert_eq!(first(&h), "Research");
    // A view key forgets the way back.
    h.key('2');
    assert!(h.s.crumbs.is_empty());
}

/// `Up`/`Down` in the filter bar recall the filters kept with `Enter`, newest first, and
/// `Down` past the newest gives back what was being typed.
#[test]
fn up_and_down_in_the_filter_bar_recall_earlier_filters() {
    let mut h = Harness::new(5);
    h.key('4');
    for f in ["owner:none", "provider:openai"] {
        h.key('/');
        h.ctrl('u');
        h.typ(f);
        h.code(KeyCode::Enter);
    }
    h.key('/');
    h.ctrl('u');
    h.typ("ali");
    h.code(KeyCode::Up);
    assert_eq!(h.s.vs().filter, "provider:openai");
    h.code(KeyCode::Up);
    assert_eq!(h.s.vs().filter, "owner:none");
    h.code(KeyCode::Up);
    assert_eq!(h.s.vs().filter, "owner:none", "the oldest stays");
    h.code(KeyCode::Down);
    assert_eq!(h.s.vs().filter, "provider:openai");
    h.code(KeyCode::Down);
    assert_eq!(h.s.vs().filter, "ali", "back to what was typed");
    assert_eq!(h.s.filter_history, ["owner:none", "provider:openai"]);
}

/// `/` on a view that keeps a filter shows it selected: typing replaces it (a new search, as
/// in any text field), Backspace deletes it, `→`/`End` keep it to type after it; once edited,
/// keys edit as usual. Esc still clears, Enter still keeps.
#[test]
fn slash_on_a_kept_filter_selects_it_and_typing_replaces_it() {
    let mut h = Harness::new(5);
    h.key('4');
    h.key('/');
    h.typ("owner:none");
    h.code(KeyCode::Enter);
    h.key('/');
    assert!(h.s.filter_selected, "the kept filter is selected");
    h.typ("ali");
    assert_eq!(h.s.vs().filter, "ali", "typing replaced it");
    h.typ("ce");
    assert_eq!(h.s.vs().filter, "alice", "then typing adds");
    h.code(KeyCode::Enter);
    h.key('/');
    h.code(KeyCode::End);
    assert!(!h.s.filter_selected);
    h.typ(" provider:openai");
    assert_eq!(h.s.vs().filter, "alice provider:openai", "End keeps it");
    h.code(KeyCode::Enter);
    h.key('/');
    h.code(KeyCode::Backspace);
    assert_eq!(h.s.vs().filter, "", "Backspace deletes the selection");
    h.typ("bob");
    h.code(KeyCode::Backspace);
    assert_eq!(h.s.vs().filter, "bo", "then deletes a character");
    h.code(KeyCode::Enter);
    h.key('/');
    h.code(KeyCode::Right);
    h.code(KeyCode::Backspace);
    assert_eq!(
        h.s.vs().filter,
        "b",
        "→ then Backspace edits the kept filter"
    );
    h.code(KeyCode::Esc);
    h.key('/');
    assert!(!h.s.filter_selected, "nothing kept: nothing selected");
}

/// `Tab` in the `:` bar completes the command, then its argument, and never wipes the input.
#[test]
fn tab_in_the_command_bar_completes_commands_columns_and_emails() {
    let mut h = Harness::new(5);
    h.key('4');
    h.key(':');
    h.typ("sor");
    h.code(KeyCode::Tab);
    assert_eq!(h.s.input, "sort ");
    h.typ("sp");
    h.code(KeyCode::Tab);
    assert_eq!(h.s.input, "sort spend ");
    h.code(KeyCode::Esc);
    h.key(':');
    h.typ("sweep ");
    h.code(KeyCode::Tab);
    assert_eq!(h.s.input, "sweep ", "two people: nothing wiped");
    assert!(
        h.s.toast.as_ref().unwrap().0.contains("alice@example.com"),
        "the matches are listed"
    );
    h.typ("c");
    h.code(KeyCode::Tab);
    assert_eq!(h.s.input, "sweep carol@example.com ");
    h.code(KeyCode::Esc);
    h.key(':');
    h.typ("delegate al");
    h.code(KeyCode::Tab);
    assert_eq!(h.s.input, "delegate alice@example.com ");
    h.typ("she owns it");
    h.code(KeyCode::Tab);
    assert_eq!(
        h.s.input, "delegate alice@example.com she owns it",
        "only the first argument completes; the reason is left alone"
    );
}

/// When the data is judged again (after a reassign), the cursor stays on the object it was on,
/// though every row is new; when that object is gone, on the row that took its place.
#[test]
fn a_rejudge_keeps_the_cursor_on_its_object() {
    let mut h = Harness::new(6);
    h.key('2');
    h.key('j');
    h.key('j');
    let subject = |h: &Harness| {
        h.s.vs()
            .row(h.s.current().unwrap())
            .unwrap()
            .cell(2)
            .to_string()
    };
    let on = subject(&h);
    // The first finding is settled (gone); the rest are the same.
    let old = h.s.data.clone();
    let rest = old.findings[1..].to_vec();
    let again = Data::new(
        old.snapshot.clone(),
        rest,
        crate::reconcile::Context::at(NOW),
    );
    h.send(Msg::Data(Arc::new(again)));
    assert_eq!(subject(&h), on, "still on the same finding");
    // Now the finding under the cursor is the one that goes.
    let old = h.s.data.clone();
    let at = h.s.vs().cursor;
    let next =
        h.s.vs()
            .row(h.s.vs().visible[at + 1])
            .unwrap()
            .cell(2)
            .to_string();
    let gone = h.s.vs().row(h.s.current().unwrap()).unwrap().item as usize;
    let mut rest = old.findings.clone();
    rest.remove(gone);
    h.send(Msg::Data(Arc::new(Data::new(
        old.snapshot.clone(),
        rest,
        crate::reconcile::Context::at(NOW),
    ))));
    assert_eq!(h.s.vs().cursor, at);
    assert_eq!(subject(&h), next, "the next row took its place");
}

/// A finding about a key is labelled by the key (one label everywhere), not by its owner's
/// email; and a revoke that was done but whose object a later snapshot still has says so.
#[test]
fn key_findings_are_labelled_by_the_key_and_a_revived_object_is_flagged() {
    let mut h = Harness::with_engine(1);
    let sample = sample_data(1);
    let findings =
        crate::reconcile::reconcile(&sample.snapshot.data, &crate::reconcile::Context::at(NOW));
    let data = Data::new(
        sample.snapshot.clone(),
        findings,
        crate::reconcile::Context::at(NOW),
    );
    h.send(Msg::Data(Arc::new(data)));
    h.key('2');
    h.key('/');
    h.typ("alice scim-uncovered");
    h.code(KeyCode::Enter);
    let row = h.s.vs().row(h.s.current().unwrap()).unwrap().item;
    let (t, label, _) = h.s.data.target(ViewId::Gaps, row).unwrap();
    assert_eq!(t.id, "key_a");
    assert_eq!(label, "alice-ci (sk-...abcd)", "the Keys view's label");
    let (_, in_keys, _) = h.s.data.target(ViewId::Keys, 0).unwrap();
    assert_eq!(label, in_keys);

    // Revoke it, apply it (done before the snapshot was taken): the detail flags it.
    h.key('r');
    h.typ("left");
    h.code(KeyCode::Enter);
    let d = h.outside().decisions().unwrap().remove(0);
    h.carry_out(&[d], NOW - 50);
    let row = h.s.vs().row(h.s.current().unwrap()).unwrap().item;
    let (t, _) = crate::tui::view::decision_text(&h.s, &h.s.data, ViewId::Gaps, row).unwrap();
    assert!(
        t.contains("done, HTTP 200 (plan") && t.contains("STILL HERE in snapshot #1"),
        "{t}"
    );
}

/// A Keys row's colour is its worst finding's, as in Gaps: reconcile judges, under the
/// configured rules, and the row shows it (no thresholds of the table's own, which disagreed
/// with the rules as soon as they were configured). Muted stays a key no longer usable.
#[test]
fn a_keys_row_colour_is_its_worst_findings() {
    use crate::reconcile::{Context, Rules};
    use crate::tui::table::Tone;
    let snap = sample_data(0).snapshot;
    let tones = |rules: Rules| {
        let cx = Context {
            rules,
            ..Context::at(NOW)
        };
        let found = crate::reconcile::reconcile(&snap.data, &cx);
        let data = Data::new(snap.clone(), found.clone(), cx);
        let table = data.table(ViewId::Keys);
        table
            .rows
            .iter()
            .map(|r| {
                let c = &snap.data.credentials[r.item as usize];
                let worst = found
                    .iter()
                    .filter(|f| {
                        f.subject_id == c.id
                            && matches!(f.subject_kind.as_str(), "api_key" | "admin_key")
                    })
                    .map(|f| f.severity)
                    .min();
                // Low and info findings leave a row plain: muted is a key no longer usable.
                let want = match worst {
                    Some(s) if s <= Severity::Medium => crate::tui::data::severity_tone(s),
                    _ => Tone::Normal,
                };
                assert_eq!(r.tone, want, "{}: worst finding {worst:?}", c.id);
                (c.id.clone(), r.tone)
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let default = tones(Rules::default());
    // alice-ci: unused 120 days, made 200 days ago: dormant and unrotated by default.
    assert_eq!(default["key_a"], Tone::Accent);
    let lax = tones(Rules {
        dormant_key_days: 365,
        unrotated_key_days: 365,
        ..Rules::default()
    });
    assert_eq!(
        lax["key_a"],
        Tone::Normal,
        "no rule above low holds it against the key"
    );
}

/// A key that runs as a service account answers to that account: the account's findings
/// (nobody owns it) colour the key's row and are listed in its detail, as its own are.
#[test]
fn a_service_account_keys_row_shows_its_accounts_findings() {
    use crate::tui::table::Tone;
    let mut snap = sample_data(0).snapshot;
    snap.data.service_accounts = vec![service_account("svc_1", "search-bot")];
    let key = snap
        .data
        .credentials
        .iter_mut()
        .find(|c| c.id == "key_c")
        .expect("the sample's key nobody owns");
    key.owner = Some(runs_as("service_account", "svc_1"));
    let cx = crate::reconcile::Context::at(NOW);
    let found = crate::reconcile::reconcile(&snap.data, &cx);
    assert!(
        found
            .iter()
            .any(|f| f.rule == "unowned-service-account" && f.subject_id == "svc_1")
    );
    let data = Data::new(snap.clone(), found, cx);
    let item = snap
        .data
        .credentials
        .iter()
        .position(|c| c.id == "key_c")
        .unwrap() as u32;
    let table = data.table(ViewId::Keys);
    let row = table.rows.iter().find(|r| r.item == item).unwrap();
    assert_eq!(row.tone, Tone::Warn, "unowned-service-account is high");
    let listed = data.key_findings(item);
    assert!(
        listed
            .iter()
            .any(|l| l.starts_with("unowned-service-account (high): ")),
        "{listed:#?}"
    );
}

/// The detail panes' lookups by `(source, id)` find what a scan of the snapshot finds: every
/// account and resource, the first of two with one id, and nothing for an id not there.
#[test]
fn accounts_and_resources_by_id_find_what_a_scan_finds() {
    let mut data = sample_data(3);
    let mut twin = data.snapshot.data.accounts[0].clone();
    twin.email = Some("twin@example.com".into());
    data.snapshot.data.accounts.push(twin);
    let d = &data.snapshot.data;
    for a in &d.accounts {
        let scan = d
            .accounts
            .iter()
            .find(|x| x.source == a.source && x.id == a.id);
        assert_eq!(data.account(&a.source, &a.id), scan);
    }
    let first = &d.accounts[0];
    assert_ne!(
        data.account(&first.source, &first.id)
            .unwrap()
            .email
            .as_deref(),
        Some("twin@example.com")
    );
    assert_eq!(data.account(&first.source, "nobody"), None);
    assert_eq!(data.account("elsewhere", &first.id), None);
    for r in &d.resources {
        let name = r.name.as_deref().unwrap_or(&r.id);
        assert_eq!(data.resource_name(&r.source, &r.id), name);
    }
    assert_eq!(data.resource_name("openai", "proj_gone"), "proj_gone");
}

/// A key a plan revoked after its snapshot was taken is still `active` in that snapshot: the
/// detail's status says the snapshot predates the revoke and how to see it gone, rather than
/// a bare `active` beside a carried-out revoke.
#[test]
fn a_keys_status_after_its_revoke_landed_says_the_snapshot_is_older() {
    let mut h = Harness::with_engine(1);
    h.key('4');
    h.key('g');
    let status = |h: &Harness| {
        h.detail()
            .into_iter()
            .find(|l| l.trim_start().starts_with("status"))
            .expect("a status line")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(status(&h), "status active");
    h.key('r');
    h.typ("leaked");
    h.code(KeyCode::Enter);
    let d = h.outside().decisions().unwrap().remove(0);
    // The cursor moved on to the next key: back to the revoked one.
    h.key('k');
    let item = h.s.vs().row(h.s.current().unwrap()).unwrap().item;
    let key = h.s.data.snapshot.data.credentials[item as usize].clone();
    assert_eq!(d.d.target.id, key.id, "the revoke is the shown key's");
    let taken = h.s.data.snapshot.taken_at;
    h.carry_out(&[d], taken + 7);
    assert_eq!(
        status(&h),
        format!(
            "status active in snapshot #{}, taken before the revoke: :sync to see it gone",
            h.s.data.snapshot.id
        )
    );
}

/// Esc on `:leak`'s reason prompt leaves nothing marked behind (the command marked the key).
#[test]
fn a_cancelled_leak_leaves_no_mark() {
    let mut h = Harness::new(3);
    h.command("leak key_a");
    assert_eq!(h.s.mode, Mode::Prompt);
    assert_eq!(h.s.view_state(ViewId::Keys).marks.count(), 1);
    h.code(KeyCode::Esc);
    assert_eq!(h.s.view_state(ViewId::Keys).marks.count(), 0);
}

/// Every view whose rows take decisions (but the queue, whose items are the campaign's) says
/// what each row is about, and its quick id agrees with the target; a view whose rows take no
/// decisions has no target to stage (the trait's default says "none", so this holds a new
/// decidable view to writing its own).
#[test]
fn every_decidable_view_says_what_each_row_is_about() {
    let h = Harness::new(9);
    for id in ViewId::ALL.into_iter().chain([ViewId::Queue]) {
        let v = crate::tui::views::of(id);
        if v.decidable() && id != ViewId::Queue {
            let table = h.s.data.table(id);
            assert!(!table.rows.is_empty(), "{id:?} has rows to check");
            for row in &table.rows {
                let (t, label, _) = v
                    .target(&h.s.data, row.item)
                    .unwrap_or_else(|| panic!("{id:?} row {}", row.item));
                assert!(!label.is_empty(), "{id:?}");
                assert_eq!(v.target_id(&h.s.data, row.item), Some(t.id.as_str()));
            }
        } else {
            for item in 0..9 {
                let target = v.target(&h.s.data, item);
                assert!(target.is_none(), "{id:?} stages {target:?}");
            }
        }
    }
}

/// A revoke of one account says whose account on which provider, not only an email (which
/// reads as everything that person holds).
#[test]
fn a_revoke_prompt_says_whose_account_on_which_provider() {
    let mut h = Harness::new(9);
    h.key('/');
    h.typ("unmanaged");
    h.code(KeyCode::Enter);
    h.key('r');
    assert_eq!(h.s.mode, Mode::Prompt);
    let title = h.s.prompt.as_ref().unwrap().title.clone();
    assert!(
        title.starts_with("Revoke person002@example.com's account on OpenAI. Justification"),
        "{title}"
    );
}

/// A key that runs as a service account and names only its id (Anthropic's keys do) says which
/// service account by the name the snapshot lists for it, with its project.
#[test]
fn a_key_runs_as_its_service_account_by_name() {
    let mut h = Harness::new(0);
    let mut snap = sample_data(0).snapshot.clone();
    snap.data.service_accounts = vec![service_account("svac_01", "ci-bot")];
    let key = snap.data.credentials.first_mut().expect("a sample key");
    key.owner = Some(runs_as("service_account", "svac_01"));
    h.load(snap);
    h.key('4');
    h.key('g');
    let detail = h.detail();
    let runs = detail
        .iter()
        .find(|l| l.contains("runs as"))
        .unwrap_or_else(|| panic!("{detail:#?}"));
    assert!(
        runs.ends_with("runs as service account ci-bot in Research (svac_01)"),
        "{runs:?}"
    );
}

/// Whether a revoke landed, as the snapshot shows it: done after the snapshot was taken (it
/// cannot show it yet), or the key is no longer usable (Anthropic's revoke sets a key
/// inactive, and the key stays listed); done before and still usable is still here.
#[test]
fn a_revoke_landed_when_the_snapshot_cannot_show_it_or_the_key_is_inactive() {
    use crate::remediate::{JournalRow, RowState};
    let done = |at: i64| JournalRow {
        plan: 1,
        seq: 1,
        decisions: vec![7],
        source: "anthropic".into(),
        kind: "call".into(),
        method: Some("POST".into()),
        path: Some("/v1/organizations/api_keys/key_a".into()),
        body: Some(r#"{"status":"inactive"}"#.into()),
        note: None,
        state: RowState::Done,
        attempts: 1,
        status: Some(200),
        result: Some("ok".into()),
        updated_at: at,
    };
    let review = |at: i64| {
        crate::tui::data::Review::new(Vec::new(), Vec::new())
            .with_journal(Default::default(), vec![done(at)])
    };
    let mut data = sample_data(0);
    let taken = data.snapshot.taken_at;
    assert_eq!(
        review(taken - DAY).landed(&data, ViewId::Keys, 0, 7),
        Some(false)
    );
    assert_eq!(
        review(taken + 60).landed(&data, ViewId::Keys, 0, 7),
        Some(true)
    );
    assert_eq!(review(taken - DAY).landed(&data, ViewId::Keys, 0, 8), None);
    data.snapshot.data.credentials[0].status = Some("inactive".into());
    assert_eq!(
        review(taken - DAY).landed(&data, ViewId::Keys, 0, 7),
        Some(true)
    );
}

/// An OpenAI service account `id` called `name` in the sample's project.
fn service_account(id: &str, name: &str) -> crate::model::ServiceAccount {
    crate::model::ServiceAccount {
        source: "openai".into(),
        provider: "openai".into(),
        id: id.into(),
        resource_id: Some("proj_1".into()),
        name: Some(name.into()),
        role: None,
        created_at: None,
    }
}

/// A key's owner as the provider names it: only by kind and id.
fn runs_as(kind: &str, id: &str) -> crate::model::Owner {
    crate::model::Owner {
        kind: kind.into(),
        id: id.into(),
        email: None,
        name: None,
    }
}

/// A key's detail names what it lives in as its provider does: an Anthropic key is in a
/// workspace (the Default Workspace when it names none), an OpenAI project key in a project,
/// an admin key above both. The Keys table's RESOURCE column says the same place.
#[test]
fn a_keys_detail_says_workspace_for_anthropic_and_project_for_openai() {
    let place = |provider: &str, kind: &str, resource: Option<&str>| {
        let mut h = Harness::new(0);
        let mut snap = sample_data(0).snapshot.clone();
        let key = snap.data.credentials.first_mut().expect("a sample key");
        key.provider = provider.into();
        key.kind = kind.into();
        key.resource_id = resource.map(str::to_string);
        h.load(snap);
        h.key('4');
        h.key('g');
        let detail = h.detail();
        let table = h.s.data.table(ViewId::Keys);
        let row = table
            .rows
            .iter()
            .find(|r| r.item == 0)
            .expect("the key's row");
        let column = table
            .columns
            .iter()
            .position(|c| c.name == "resource")
            .expect("a resource column");
        let in_table = row.cell(column).to_string();
        let in_detail = detail
            .iter()
            .find(|l| {
                ["project", "workspace", "scope"]
                    .iter()
                    .any(|w| l.trim_start().starts_with(w))
            })
            .unwrap_or_else(|| panic!("{detail:#?}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            in_detail.ends_with(&format!(" {in_table}")),
            "table {in_table:?}, detail {in_detail:?}"
        );
        in_detail
    };
    assert_eq!(
        place("openai", "project_key", Some("proj_1")),
        "project Research"
    );
    assert_eq!(
        place("anthropic", "api_key", Some("proj_1")),
        "workspace Research"
    );
    assert_eq!(
        place("anthropic", "api_key", None),
        "workspace the Default Workspace"
    );
    assert_eq!(place("openai", "admin_key", None), "scope the org");
}

/// A key that runs as a user the org no longer lists, known only by an id, says so in the
/// Keys view's OWNER column and the detail pane, rather than a bare id that reads like anyone's.
#[test]
fn a_keys_owner_gone_from_the_org_is_said_to_be() {
    let mut h = Harness::new(0);
    let mut snap = sample_data(0).snapshot.clone();
    let key = snap.data.credentials.first_mut().expect("a sample key");
    key.owner = Some(runs_as("user", "user-formerzed"));
    h.load(snap);
    let table = h.s.data.table(ViewId::Keys);
    let row = table
        .rows
        .iter()
        .find(|r| r.cell(0) == "alice-ci")
        .expect("the key's row");
    assert_eq!(row.cell(1), "not in org: user-formerzed");
    // Bob is still in the org: his key's owner is his email, as before.
    let bob = table
        .rows
        .iter()
        .find(|r| r.cell(0) == "bob-notebook")
        .expect("bob's key");
    assert_eq!(bob.cell(1), "bob@example.com");
    h.key('4');
    h.key('g');
    let detail = h.detail();
    assert!(
        detail
            .iter()
            .any(|l| l.contains("owner")
                && l.contains("not in org: user-formerzed (from the provider)")),
        "{detail:#?}"
    );
}

#[test]
fn o_capital_accepts_the_owner_recert_suggests_and_shows_the_audit_log() {
    let mut h = Harness::new(0);
    let mut snap = sample_data(0).snapshot.clone();
    snap.data.service_accounts = ["svc_1", "svc_2"]
        .iter()
        .map(|id| service_account(id, &format!("{id}-bot")))
        .collect();
    let made = |id: &str, by: &str| crate::model::Provenance {
        source: "openai".into(),
        subject_kind: "service_account".into(),
        subject_id: id.into(),
        fact: "created_by".into(),
        actor_kind: Some("user".into()),
        actor_id: Some("user-x".into()),
        actor_email: Some(by.into()),
        via: Some("console".into()),
        at: NOW - 30 * DAY,
        feed: "audit_log".into(),
    };
    // Alice is current; Bob has left, so nobody is suggested for svc_2.
    snap.data.provenance = vec![
        made("svc_1", "alice@example.com"),
        made("svc_2", "bob@example.com"),
    ];
    h.load(snap);
    h.key('2');
    h.key('/');
    h.typ("svc_2");
    h.code(KeyCode::Enter);
    h.key('O');
    assert_eq!(h.s.mode, Mode::Normal);
    let toast = h.s.toast.as_ref().map(|t| t.0.clone());
    assert!(
        toast
            .as_deref()
            .is_some_and(|t| t.contains("No suggested owner")),
        "{toast:?} {:?}",
        h.subjects()
    );
    h.key('/');
    h.code(KeyCode::Esc);
    h.key('/');
    h.typ("svc_1");
    h.code(KeyCode::Enter);
    let detail = h.detail();
    assert!(
        detail
            .iter()
            .any(|l| l.contains("created by alice@example.com (in the dashboard)")),
        "{detail:?}"
    );
    // A service account has no address of its own: no `email (unknown)` line; its row names
    // its project, so two of one name in two projects are told apart.
    assert!(!detail.iter().any(|l| l.contains("email")), "{detail:?}");
    let project =
        h.s.data
            .snapshot
            .data
            .resources
            .iter()
            .find(|r| r.id == "proj_1")
            .and_then(|r| r.name.clone())
            .unwrap_or_else(|| "proj_1".into());
    assert!(
        h.subjects().contains(&format!("svc_1-bot in {project}")),
        "{:?}",
        h.subjects()
    );
    h.key('O');
    assert_eq!(h.s.mode, Mode::Prompt);
    let title = h.s.prompt.as_ref().unwrap().title.clone();
    // What moves comes first, then to whom and why: a sentence, not a label and a colon.
    assert!(
        title.starts_with(&format!(
            "Reassign svc_1-bot in {project} to alice@example.com (created it "
        )) && title.ends_with(". Justification (required)"),
        "{title}"
    );
    h.typ("she made it");
    h.code(KeyCode::Enter);
    let ds = h.recorded();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].owner.as_deref(), Some("alice@example.com"));
    assert_eq!(ds[0].target.id, "svc_1");
}

/// A console nobody said who runs (no `settings.reviewer`, `RECERT_REVIEWER` or `$USER`)
/// warns that its decisions would name `unknown-reviewer`, and how to say who; kept in `:log`.
#[test]
fn a_console_acting_as_nobody_says_so() {
    let mut h = Harness::new(3);
    h.s.acting_as("alice@example.com");
    assert!(h.s.toast.is_none() && h.s.log.is_empty());
    h.s.acting_as(crate::review::UNKNOWN_REVIEWER);
    let (text, level, _) = h.s.toast.clone().expect("a warning");
    assert_eq!(level, Level::Warn);
    assert!(text.contains("unknown-reviewer") && text.contains("RECERT_REVIEWER"));
    assert_eq!(h.s.log, std::slice::from_ref(&text));
    // A read-only console decides nothing: no warning.
    let mut h = Harness::new(3);
    h.s.read_only = true;
    h.s.acting_as(crate::review::UNKNOWN_REVIEWER);
    assert!(h.s.toast.is_none());
}

/// Decisions and Audit list the newest first, and open on it: a cursor on the top row follows
/// the top as decisions are made (it stayed on the first decision's row, so a first visit
/// after three decisions opened on the oldest).
#[test]
fn decisions_and_audit_open_on_the_newest() {
    let mut h = Harness::with_engine(40);
    for _ in 0..3 {
        h.key('j');
        h.key('r');
        h.typ("left in October");
        h.code(KeyCode::Enter);
    }
    for view in ['6', '7'] {
        h.key(view);
        assert!(
            h.s.vs().visible.len() >= 3,
            "{view}: {:?}",
            h.s.vs().visible
        );
        assert_eq!(h.s.vs().cursor, 0, "{view}: on the newest");
    }
}

/// A key's detail lists the findings about it (why its row is red), from the findings the
/// view was built with.
#[test]
fn a_keys_detail_lists_its_findings() {
    let mut h = Harness::new(0);
    let snap = sample_data(0).snapshot.clone();
    h.load(snap);
    h.key('4');
    h.key('g');
    let detail = h.detail();
    let findings: Vec<&String> = detail
        .iter()
        .filter(|l| l.trim_start().starts_with("finding"))
        .collect();
    assert!(
        findings.iter().any(|l| l.contains("dormant-key (")),
        "{detail:#?}"
    );
    assert!(
        !findings.iter().any(|l| l.contains("orphaned-key")),
        "{detail:#?}"
    );
    // Bob has left: his key is an orphan, and says so.
    h.key('j');
    let detail = h.detail();
    assert!(
        detail.iter().any(|l| l
            .trim_start()
            .starts_with("finding orphaned-key (critical): owner inactive")),
        "{detail:#?}"
    );
}

/// Another reviewer's change reloads the review: the marks in the queue stay on the items
/// they were on (their rows moved), and a marked item that left the queue is unmarked with a
/// word. They were all dropped on every reload, so in team mode a colleague's decision
/// cleared the marks of everyone watching.
#[test]
fn marks_in_the_queue_follow_their_items_when_the_review_reloads() {
    let mut h = campaign_harness();
    let id = h.campaign.as_ref().unwrap().id;
    // Mark the second, third and fourth items.
    h.key('j');
    h.key(' ');
    h.key(' ');
    h.key(' ');
    let marked = |h: &Harness| h.marked(|_, r| r.num(0));
    assert_eq!(marked(&h), [2, 3, 4]);
    // Someone else hands the first and second items to carol.
    h.outside()
        .delegate(
            id,
            &[1, 2],
            "admin@example.com",
            "carol@example.com",
            "hers",
            NOW,
        )
        .unwrap();
    h.reload_review();
    assert_eq!(h.s.review.queue.as_ref().unwrap().items.len(), 2);
    assert_eq!(marked(&h), [3, 4], "the marks stay on their items");
    assert!(
        h.s.toast.as_ref().unwrap().0.contains("2 of 3 marks kept"),
        "{:?}",
        h.s.toast
    );
    // Every item marked with `*` is kept as the items it showed, not as a query that
    // would also mark items delegated to this reviewer later.
    h.key('*');
    assert_eq!(h.s.vs().marks.count(), 2);
    h.outside()
        .delegate(
            id,
            &[1],
            "carol@example.com",
            "rev@example.com",
            "back",
            NOW,
        )
        .unwrap();
    h.reload_review();
    assert_eq!(h.s.review.queue.as_ref().unwrap().items.len(), 3);
    assert_eq!(marked(&h), [3, 4], "an item that arrived is not marked");
}

/// A reviewer's own act on marked queue items uses the marks up, as a decision in Gaps
/// does: a second key must not act on them again (the marks followed their items across
/// the reload the act caused, and `c` on the next item offered "Certify 3 items").
#[test]
fn the_queue_s_own_acts_use_their_marks_up() {
    let mut h = campaign_harness();
    h.key(' ');
    h.key(' ');
    h.key('r');
    h.typ("unused keys");
    h.code(KeyCode::Enter);
    assert!(
        h.s.toast.as_ref().unwrap().0.contains("Staged revoke on 2"),
        "{:?}",
        h.s.toast
    );
    assert!(h.s.vs().marks.is_empty(), "staging used the marks up");
    // Unstaging the marked items, and delegating them, use them up too.
    h.key('g');
    h.key(' ');
    h.key(' ');
    h.key('u');
    assert!(h.s.vs().marks.is_empty(), "unstaging used the marks up");
    h.key('g');
    h.key(' ');
    h.typ(":delegate carol@example.com Carol runs that project");
    h.code(KeyCode::Enter);
    let toast = &h.s.toast.as_ref().unwrap().0;
    assert!(toast.contains("Delegated 1 item to carol"), "{toast}");
    assert!(h.s.vs().marks.is_empty(), "delegating used the marks up");
}

/// Escape on a campaign batch or a sign-off says what was cancelled (it said "Apply
/// cancelled: nothing was sent" for both, though nothing is sent by either).
#[test]
fn escape_says_which_confirmation_it_cancelled() {
    let mut h = campaign_harness();
    for (command, said) in [
        (":signoff", "Sign-off cancelled: nothing was recorded"),
        (":submit", "Submit cancelled: nothing was recorded"),
    ] {
        if command == ":submit" {
            h.key('c');
            h.typ("still needed");
            h.code(KeyCode::Enter);
        }
        h.typ(command);
        h.code(KeyCode::Enter);
        assert_eq!(h.s.mode, Mode::Confirm, "{command}: {:?}", h.s.toast);
        h.code(KeyCode::Esc);
        assert_eq!(h.s.mode, Mode::Normal);
        assert_eq!(h.s.toast.as_ref().unwrap().0, said);
    }
    assert!(h.outside().decisions().unwrap().is_empty());
    // A sign-off with a decision staged and not submitted is refused, in good English.
    h.typ(":signoff");
    h.code(KeyCode::Enter);
    assert_eq!(
        h.s.toast.as_ref().unwrap().0,
        "1 staged decision not submitted: :submit first, or u to unstage"
    );
}

/// After a person's sweep is carried out, their People detail says what the snapshot cannot
/// yet: that what they hold was revoked after it was taken (it kept saying "holds 4 items on
/// providers (x revokes them all)", as Keys no longer does for a revoked key).
#[test]
fn a_person_s_detail_says_what_was_revoked_after_the_snapshot() {
    let mut h = Harness::with_engine(5);
    h.key('3');
    h.key('/');
    h.typ("bob");
    h.code(KeyCode::Enter);
    h.key('x');
    h.typ("left the company");
    h.code(KeyCode::Enter);
    let holds = |h: &Harness| {
        h.detail()
            .into_iter()
            .find(|l| l.trim_start().starts_with("holds"))
            .unwrap()
    };
    assert!(
        holds(&h).contains("4 items on providers, a revoke recorded for each, not applied yet"),
        "{}",
        holds(&h)
    );
    // Three of the four carried out, after the snapshot was taken.
    let taken = h.s.data.snapshot.taken_at;
    let ds = h.outside().decisions().unwrap();
    h.carry_out(&ds[..3], taken + 7);
    let line = holds(&h);
    assert!(
        line.contains("4 items on providers in snapshot #")
            && line.contains("3 revoked after it was taken (:sync to see them gone)")
            && line.contains("1 with a revoke not applied yet"),
        "{line}"
    );
    // `x` again says how much of it is revoked already, not "4 items" as if none were.
    h.key('x');
    let title = h.s.prompt.as_ref().unwrap().title.clone();
    assert!(title.contains("(4 items: 3 revoked already)"), "{title}");
    h.code(KeyCode::Esc);
    // The fourth revoked before the snapshot was taken, yet the snapshot still has it: said
    // so (granted again?), never "x revokes them all".
    h.carry_out(&ds[3..], taken - 40);
    let line = holds(&h);
    assert!(
        line.contains("1 revoked before it was taken, yet still here (granted again?)")
            && !line.contains("not applied yet")
            && !line.contains("x revokes them all"),
        "{line}"
    );
}

/// A filter kept with an error still shows the last good filter's rows when the table is
/// made again (a reload of the review, new data): it blanked the view, while the status line
/// said "showing /seq>1".
#[test]
fn a_kept_filter_with_an_error_keeps_showing_rows_after_a_reload() {
    let mut h = Harness::with_engine(5);
    h.certify_each(&["one", "two", "three"]);
    h.key('7');
    h.key('/');
    h.typ("seq>1");
    assert_eq!(h.s.vs().visible.len(), 2);
    h.typ("x");
    h.code(KeyCode::Enter);
    assert!(h.s.vs().error.is_some());
    assert_eq!(h.s.vs().visible.len(), 2);
    // Another decision, elsewhere: the audit table is made again.
    let d = h.outside().decisions().unwrap().remove(0).d;
    h.outside()
        .record_decisions(&[d], "other@example.com", None, NOW)
        .unwrap();
    h.reload_review();
    assert_eq!(
        h.s.vs().visible.len(),
        3,
        "the rows of /seq>1, new entry included"
    );
    assert!(h.s.vs().error.is_some(), "and the error still said");
}

/// In Decisions the marks stay on their decisions (by id) when a new one comes in at the top.
#[test]
fn marks_in_decisions_follow_their_decisions_when_one_arrives() {
    let mut h = Harness::with_engine(5);
    h.certify_each(&["one", "two", "three"]);
    h.key('6');
    h.key('j');
    h.key(' ');
    h.key(' ');
    let marked = |h: &Harness| h.marked(|h, r| h.s.review.decisions[r.item as usize].id);
    let before = marked(&h);
    assert_eq!(before.len(), 2);
    h.decide_elsewhere();
    assert_eq!(h.s.vs().table.rows.len(), 4);
    assert_eq!(marked(&h), before);
}

/// A reload answers the review's small tables at once, as the worker would: Decisions and
/// Audit went blank for a frame ("Decisions 0 · filtering…") on every change another process
/// made, and refused marks meanwhile.
#[test]
fn a_reload_answers_the_review_s_small_tables_at_once() {
    let mut h = Harness::with_engine(5);
    h.certify_each(&["one", "two"]);
    h.key('6');
    h.key('j');
    h.defer_refine = true;
    h.decide_elsewhere();
    let vs = h.s.vs();
    assert!(!vs.updating());
    assert_eq!(vs.visible.len(), 3, "no blank frame");
    assert_eq!(
        vs.cursor, 2,
        "the cursor stays on its decision, now one row down"
    );
}

/// News of another reviewer's acts never hides a warning still showing: both are said.
#[test]
fn news_joins_a_warning_still_showing() {
    let mut h = Harness::new(5);
    h.send(Msg::Tick { now_ms: 1_000 });
    h.s.notify("2 of 3 marks kept: the rest left this view", Level::Warn);
    h.send(Msg::Notice("bob@example.com: 1 decision".into()));
    let (text, level, _) = h.s.toast.clone().unwrap();
    assert_eq!(
        text,
        "bob@example.com: 1 decision · 2 of 3 marks kept: the rest left this view"
    );
    assert_eq!(level, Level::Warn);
    // Once the warning has gone, news is news alone.
    h.send(Msg::Tick { now_ms: 100_000 });
    h.send(Msg::Notice("carol@example.com signed off".into()));
    assert_eq!(h.s.toast.clone().unwrap().0, "carol@example.com signed off");
}

/// Another process applies the same revokes while this console's confirm is open: the
/// console's plan is stored against the plans it was planned against (the newest when the
/// preview was made), so what the other one did since is "already done", not sent again.
/// It took the newest plan when `y` was pressed, after the review had reloaded with the
/// other process's plan in it, and every call went out a second time.
#[test]
fn a_confirm_applies_against_the_plans_its_preview_was_made_against() {
    let mut h = Harness::with_engine(5);
    h.revoke_in_keys("unused");
    h.command("apply");
    let steps = h.s.confirm.as_ref().expect("the preview").steps.clone();
    assert!(!steps.is_empty());
    // Meanwhile another process plans (and would send) the same calls.
    let mut other = h.outside();
    let plan = crate::engine::apply::store_plan(&mut other, &steps, 0, "other", None, NOW).unwrap();
    assert!(plan > 0);
    h.reload_review();
    assert!(h.s.review.journal.iter().any(|r| r.plan == plan));
    h.key('y');
    let effects = h.code(KeyCode::Enter);
    let [Effect::Engine(Command::Apply { known, .. })] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!(*known, 0, "planned before plan #{plan} existed");
}

/// `:sync` with no source configured says so, as an error: a console opened on a store
/// without its config said "Sync finished: the views show the new snapshot" while nothing
/// was read or stored.
#[test]
fn a_sync_with_no_sources_says_so_and_is_not_a_success() {
    let mut h = Harness::with_engine(5);
    h.send_engine(Command::Sync);
    let (text, level, _) = h.s.toast.clone().expect("a word on the sync");
    assert_eq!(level, Level::Error, "{text}");
    assert!(text.contains("no sources configured"), "{text}");
    assert!(!text.contains("finished"), "{text}");
}

/// Gaps names a key by its name, then whose it is: five keys of one leaver read alike when
/// the row showed only the holder's email.
#[test]
fn gaps_names_a_key_by_its_name_then_its_holder() {
    let snap = sample_data(5).snapshot.clone();
    let cx = crate::reconcile::Context::at(NOW);
    let findings = crate::reconcile::reconcile(&snap.data, &cx);
    let data = Data::new(snap, findings, cx);
    let t = data.gaps_table();
    let col = t.columns.iter().position(|c| c.name == "subject").unwrap();
    let keys: Vec<(&crate::tui::table::Row, &Finding)> = t
        .rows
        .iter()
        .map(|r| (r, &data.findings[r.item as usize]))
        .filter(|(_, f)| f.subject_kind.ends_with("key") && f.subject_email.is_some())
        .collect();
    let mut seen = 0;
    for (r, f) in keys {
        // Findings about keys the snapshot does not list have no name to show.
        let Some(c) = data
            .snapshot
            .data
            .credentials
            .iter()
            .find(|c| c.source == f.source && c.id == f.subject_id)
        else {
            continue;
        };
        seen += 1;
        let cell = r.cell(col);
        assert!(
            cell.starts_with(&crate::tui::data::clean(&c.label())),
            "{cell}"
        );
        assert!(
            cell.ends_with(f.subject_email.as_deref().unwrap()),
            "{cell}"
        );
    }
    assert!(
        seen > 0,
        "sample data has listed keys with findings and a holder"
    );
}

/// Anthropic reports key use only through its usage report, read 90 days back: a key with no
/// use in that window has gone unused *at least* 90 days, not for its age. The Keys view says
/// `>90d` and sorts and filters it as 90; a key created inside the window, or with a use, or on
/// OpenAI (whose keys carry their own `last_used_at`), shows its days as before.
#[test]
fn an_anthropic_key_unused_in_the_usage_window_says_at_least_the_window() {
    let mut h = Harness::new(0);
    let mut snap = h.s.data.snapshot.clone();
    let anthropic = |id: &str, created: i64, used: Option<i64>| {
        let mut k = key(id, id, None, created, used, None);
        k.source = "anthropic".into();
        k.provider = "anthropic".into();
        k.kind = "api_key".into();
        k
    };
    snap.data.credentials = vec![
        anthropic("an-old", 300, None),
        anthropic("an-new", 30, None),
        anthropic("an-used", 300, Some(12)),
        key("oa-never", "oa-never", None, 300, None, None),
    ];
    h.load(snap);
    h.key('4');
    let unused = |h: &Harness, id: &str| {
        let t = &h.s.vs().table;
        let col = t.columns.iter().position(|c| c.name == "unused").unwrap();
        let r = t.rows.iter().find(|r| r.cell(0) == id).unwrap();
        (r.cell(col).to_string(), r.num(col))
    };
    assert_eq!(unused(&h, "an-old"), (">90d".to_string(), 90));
    assert_eq!(unused(&h, "an-new"), ("30d".to_string(), 30));
    assert_eq!(unused(&h, "an-used"), ("12d".to_string(), 12));
    assert_eq!(unused(&h, "oa-never"), ("300d".to_string(), 300));
}

/// `u` puts the cursor back on the row whose decision it undid (the decision had moved it on
/// to the next open row), as an editor's undo returns to the change.
#[test]
fn undo_returns_the_cursor_to_the_undone_row() {
    let mut h = Harness::with_engine(5);
    h.key('j');
    let decided = h.s.vs().cursor;
    h.key('c');
    h.typ("kept");
    h.code(KeyCode::Enter);
    assert_eq!(h.s.vs().cursor, decided + 1, "the decision moved on");
    h.key('j');
    h.key('u');
    let said = &h.s.toast.as_ref().unwrap().0;
    assert!(said.starts_with("Undone"), "{said}");
    assert_eq!(h.s.vs().cursor, decided, "back on the undone row");
}

/// `y` never puts a control or format character on the clipboard: an id a provider gave with
/// a newline (`key_x\n touch /tmp/pwned\n`) would run as commands when pasted into a shell,
/// and an ESC could end a bracketed paste. Such an id is not copied; the toast says why.
#[test]
fn y_refuses_an_id_with_control_characters() {
    let mut h = Harness::new(0);
    let mut snap = h.s.data.snapshot.clone();
    for (k, id) in snap.data.credentials.iter_mut().zip([
        "key_x\n touch /tmp/pwned\n",
        "key_y\u{202e}\u{1b}[2Jx",
        "key_z\u{1b}[201~",
    ]) {
        k.id = id.into();
    }
    h.load(snap);
    h.key('4');
    for n in 0..3 {
        let effects = h.key('y');
        assert!(effects.is_empty(), "row {n}: {effects:?}");
        let said = &h.s.toast.as_ref().unwrap().0;
        assert!(said.contains("Not copied"), "{said}");
        h.key('j');
    }
}
