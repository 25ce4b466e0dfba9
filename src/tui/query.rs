//! The filter language: space-separated terms, all of which must hold.
//!
//! - `alice`: fuzzy text; its letters must appear in order, close together, inside one column.
//! - `owner:none`, `provider:openai`: a word of the column's text starts with the value
//!   (`status:active` is not `inactive`; `none`: the cell is empty).
//! - `unused>90d`, `age>=1y`, `spend>100`, `members<3`: numeric columns compare; days take
//!   `d`, `w`, `m` (30 days) or `y`, spend is in dollars.
//! - `decision:none`, `decision:revoke` (`any`, `certify`, `reassign`, `defer`; a prefix will
//!   do): the row's standing decision, in views whose rows can be decided.
//! - `!term`: the term must not hold.

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;

use super::table::{Column, NONE, Row, Table, Unit, char_mask};
use crate::review::Verdict;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// Lower-cased letters of a fuzzy term, and their `char_mask`.
    Text(Vec<char>, u64),
    Field {
        col: usize,
        value: String,
    },
    Num {
        col: usize,
        op: Op,
        value: i64,
    },
    /// `decision:VALUE`: `none`, `any`, or a verdict (or its prefix).
    Decision(Decided),
}

/// What a `decision:` term asks of a row's standing decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decided {
    None,
    Any,
    Is(Verdict),
}

/// What `decision:` takes.
const DECISION_VALUES: [&str; 6] = ["none", "any", "certify", "revoke", "reassign", "defer"];

/// Each decided row's item and its verdict, as a `decision:` term reads them.
pub type Decisions = Arc<HashMap<u32, Verdict>>;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pub text: String,
    pub terms: Vec<(bool, Term)>,
    /// For `decision:` terms: each decided row's item and its verdict (`certify`, ...), filled
    /// in by the console from the decisions standing when the filter runs.
    pub decided: Option<Decisions>,
}

impl Query {
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether any term asks about decisions.
    pub fn asks_decisions(&self) -> bool {
        self.terms
            .iter()
            .any(|(_, t)| matches!(t, Term::Decision(_)))
    }
}

fn number(s: &str, unit: Unit) -> Option<i64> {
    let s = s.trim();
    match unit {
        Unit::Days => {
            let (n, mul) = match s.chars().last()? {
                'd' => (&s[..s.len() - 1], 1),
                'w' => (&s[..s.len() - 1], 7),
                'm' => (&s[..s.len() - 1], 30),
                'y' => (&s[..s.len() - 1], 365),
                _ => (s, 1),
            };
            n.parse::<i64>().ok().map(|n| n * mul)
        }
        Unit::Cents => {
            let n: f64 = s.trim_start_matches('$').parse().ok()?;
            n.is_finite().then(|| (n * 100.0).round() as i64)
        }
        Unit::Count | Unit::Text => s.parse().ok(),
    }
}

/// Parse `text` against a table's columns. An unknown column or a bad number is an error that
/// names it and lists what would work.
pub fn parse(text: &str, cols: &[Column]) -> Result<Query, String> {
    let mut terms = Vec::new();
    let find = |name: &str| -> Result<usize, String> {
        let name = name.to_lowercase();
        cols.iter().position(|c| c.name == name).ok_or_else(|| {
            let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
            format!("no column '{name}' here; columns: {}", names.join(", "))
        })
    };
    for raw in text.split_whitespace() {
        let (neg, t) = match raw.strip_prefix('!') {
            Some(rest) if !rest.is_empty() => (true, rest),
            _ => (false, raw),
        };
        let op_at = t.find(['<', '>', '=']);
        let colon_at = t.find(':');
        let term = match (colon_at, op_at) {
            (Some(c), o)
                if o.is_none_or(|o| c < o)
                    && t[..c].eq_ignore_ascii_case("decision")
                    && find("decision").is_err() =>
            {
                // A prefix names the one value it starts (`rev` is revoke; `re` is two).
                let value = t[c + 1..].to_lowercase();
                let fits: Vec<&str> = DECISION_VALUES
                    .into_iter()
                    .filter(|v| !value.is_empty() && v.starts_with(&value))
                    .collect();
                match fits[..] {
                    ["none"] => Term::Decision(Decided::None),
                    ["any"] => Term::Decision(Decided::Any),
                    [one] => Term::Decision(Decided::Is(
                        Verdict::parse(one).expect("DECISION_VALUES names verdicts"),
                    )),
                    _ => {
                        return Err(format!(
                            "decision: takes {} (a prefix will do)",
                            DECISION_VALUES.join(", ")
                        ));
                    }
                }
            }
            (Some(c), o) if o.is_none_or(|o| c < o) && c > 0 => {
                let col = find(&t[..c])?;
                Term::Field {
                    col,
                    value: t[c + 1..].to_lowercase(),
                }
            }
            (_, Some(o)) if o > 0 => {
                let col = find(&t[..o])?;
                let rest = &t[o..];
                let (op, num) = if let Some(n) = rest.strip_prefix(">=") {
                    (Op::Ge, n)
                } else if let Some(n) = rest.strip_prefix("<=") {
                    (Op::Le, n)
                } else if let Some(n) = rest.strip_prefix('>') {
                    (Op::Gt, n)
                } else if let Some(n) = rest.strip_prefix('<') {
                    (Op::Lt, n)
                } else {
                    (Op::Eq, &rest[1..])
                };
                let unit = cols[col].unit;
                if unit == Unit::Text {
                    return Err(format!(
                        "'{}' is a text column: write {}:VALUE",
                        cols[col].name, cols[col].name
                    ));
                }
                let value = number(num, unit).ok_or_else(|| {
                    format!(
                        "'{num}' is not a number for '{}'{}",
                        cols[col].name,
                        match unit {
                            Unit::Days => " (write 90d, 2w, 6m or 1y)",
                            Unit::Cents => " (dollars, e.g. 100 or 12.50)",
                            _ => "",
                        }
                    )
                })?;
                Term::Num { col, op, value }
            }
            _ => {
                let lower = t.to_lowercase();
                Term::Text(lower.chars().collect(), char_mask(&lower))
            }
        };
        terms.push((neg, term));
    }
    Ok(Query {
        text: text.to_string(),
        terms,
        decided: None,
    })
}

/// Does a word of `hay` start with `needle` (lower-case), ignoring case? A word starts the
/// text or follows a character that is not a letter or digit: `active` is in `active` and
/// `not active`, never in `inactive`; `example` is in `alice@example.com`.
fn word_starts_ci(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if hay.is_ascii() && needle.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        return h.windows(n.len()).enumerate().any(|(i, w)| {
            (i == 0 || !h[i - 1].is_ascii_alphanumeric())
                && w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b)
        });
    }
    let h = hay.to_lowercase();
    h.match_indices(needle).any(|(i, _)| {
        h[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric())
    })
}

/// Do the letters of `needle` (lower-case) appear in `hay` in order, inside a window no longer
/// than twice the needle plus three? "orphan" finds "orphaned-key" and "lvr" finds "leaver",
/// but letters strewn across a sentence do not match.
pub fn compact_match(hay: &str, needle: &[char]) -> bool {
    let n = needle.len();
    if n == 0 {
        return true;
    }
    let limit = 2 * n + 3;
    if hay.is_ascii() && needle.iter().all(char::is_ascii) {
        return window(hay.as_bytes(), n, limit, |b, k| {
            b.to_ascii_lowercase() == needle[k] as u8
        });
    }
    let h: Vec<char> = hay.chars().flat_map(char::to_lowercase).collect();
    window(&h, n, limit, |c, k| *c == needle[k])
}

/// The greedy search behind `compact_match`: from each start that matches the needle's first
/// item, take the needle's items in order within `limit` positions.
fn window<T>(h: &[T], n: usize, limit: usize, eq: impl Fn(&T, usize) -> bool) -> bool {
    for start in 0..h.len() {
        if !eq(&h[start], 0) {
            continue;
        }
        let mut k = 1;
        let mut j = start + 1;
        while k < n && j < h.len() && j - start < limit {
            if eq(&h[j], k) {
                k += 1;
            }
            j += 1;
        }
        if k == n {
            return true;
        }
        if j >= h.len() {
            // No later start can finish either.
            return false;
        }
    }
    false
}

/// An empty cell, however a view draws one (`-`, `—`, `(none)`).
fn is_none(cell: &str) -> bool {
    matches!(cell.trim(), "" | "-" | "—" | "(none)")
}

fn term_holds(t: &Term, row: &Row, decided: Option<&HashMap<u32, Verdict>>) -> bool {
    match t {
        Term::Decision(want) => {
            let verdict = decided.and_then(|m| m.get(&row.item)).copied();
            match want {
                Decided::None => verdict.is_none(),
                Decided::Any => verdict.is_some(),
                Decided::Is(v) => verdict == Some(*v),
            }
        }
        Term::Text(chars, need) => row
            .cells()
            .enumerate()
            .any(|(i, c)| need & !row.mask(i) == 0 && compact_match(c, chars)),
        Term::Field { col, value } => {
            let cell = row.cell(*col);
            if value == "none" {
                is_none(cell)
            } else {
                let m = row.mask(*col);
                char_mask(value) & !m == 0 && word_starts_ci(cell, value)
            }
        }
        Term::Num { col, op, value } => {
            let v = row.num(*col);
            v != NONE
                && match op {
                    Op::Lt => v < *value,
                    Op::Le => v <= *value,
                    Op::Gt => v > *value,
                    Op::Ge => v >= *value,
                    Op::Eq => v == *value,
                }
        }
    }
}

pub fn matches(q: &Query, row: &Row) -> bool {
    let decided = q.decided.as_deref();
    q.terms
        .iter()
        .all(|(neg, t)| term_holds(t, row, decided) != *neg)
}

/// The rows of `order` that match `q`, in that order; both cores share the work.
pub fn filter(t: &Table, order: &[u32], q: &Query) -> Vec<u32> {
    if q.is_empty() {
        return order.to_vec();
    }
    order
        .par_chunks(16 * 1024)
        .flat_map_iter(|chunk| {
            chunk
                .iter()
                .copied()
                .filter(|&i| matches(q, &t.rows[i as usize]))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The same filter with fuzzy-matcher's skim algorithm for text terms, kept for the benchmark
/// that compares the two matchers.
pub fn filter_skim(t: &Table, order: &[u32], q: &Query) -> Vec<u32> {
    use fuzzy_matcher::FuzzyMatcher;
    use fuzzy_matcher::skim::SkimMatcherV2;
    let texts: Vec<String> = q
        .terms
        .iter()
        .filter_map(|(_, t)| match t {
            Term::Text(c, _) => Some(c.iter().collect()),
            _ => None,
        })
        .collect();
    let rest = Query {
        decided: q.decided.clone(),
        text: String::new(),
        terms: q
            .terms
            .iter()
            .filter(|(_, t)| !matches!(t, Term::Text(..)))
            .cloned()
            .collect(),
    };
    order
        .par_chunks(16 * 1024)
        .flat_map_iter(|chunk| {
            let m = SkimMatcherV2::default();
            chunk
                .iter()
                .copied()
                .filter(|&i| {
                    let r = &t.rows[i as usize];
                    matches(&rest, r)
                        && texts.iter().all(|term| {
                            r.cells().any(|c| match m.fuzzy_indices(c, term) {
                                Some((_, ix)) => match (ix.first(), ix.last()) {
                                    (Some(a), Some(b)) => b - a < term.chars().count() * 2 + 3,
                                    _ => true,
                                },
                                None => false,
                            })
                        })
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::table::Tone;

    fn cols() -> Vec<Column> {
        vec![
            Column::text("provider", 9),
            Column::text("owner", 20),
            Column::num("unused", 6, Unit::Days),
            Column::num("spend", 8, Unit::Cents),
        ]
    }

    fn row(p: &str, owner: &str, unused: i64, spend: i64) -> Row {
        Row::new(
            vec![
                p.into(),
                owner.into(),
                format!("{unused}d"),
                format!("${spend}"),
            ],
            vec![NONE, NONE, unused, spend],
            Tone::Normal,
            0,
        )
    }

    /// A field term matches where a word of the cell starts with the value: `status:active`
    /// is not `inactive` (a leaver's status), so `!status:active` finds the people who left.
    #[test]
    fn field_terms_match_at_the_start_of_a_word() {
        let m = |q: &str, owner: &str| {
            matches(&parse(q, &cols()).unwrap(), &row("openai", owner, 1, 1))
        };
        assert!(!m("owner:active", "inactive"));
        assert!(m("!owner:active", "inactive"));
        assert!(m("owner:inactive", "inactive"));
        assert!(m("owner:active", "active"));
        assert!(m("owner:alice", "Alice@example.com"));
        assert!(m("owner:example.com", "alice@example.com"), "after the @");
        assert!(m("owner:rotate", "owned by x: rotate it"));
        assert!(!m("owner:lice", "alice@example.com"), "not inside a word");
        assert!(m("owner:vera.sm", "vera.smith@x.com"));
    }

    #[test]
    fn decision_terms_take_a_known_value_or_its_one_prefix() {
        let q = parse("decision:rev", &cols()).unwrap();
        assert_eq!(
            q.terms,
            vec![(false, Term::Decision(Decided::Is(Verdict::Revoke)))]
        );
        assert!(q.asks_decisions());
        let q = parse("!decision:n", &cols()).unwrap();
        assert_eq!(q.terms, vec![(true, Term::Decision(Decided::None))]);
        for bad in ["decision:re", "decision:", "decision:maybe"] {
            assert!(
                parse(bad, &cols())
                    .unwrap_err()
                    .contains("a prefix will do"),
                "{bad}"
            );
        }
        let mut r = row("openai", "-", 1, 0);
        r.item = 7;
        let mut q = parse("decision:certify", &cols()).unwrap();
        assert!(!matches(&q, &r), "nothing decided");
        q.decided = Some(Arc::new(HashMap::from([(7, Verdict::Certify)])));
        assert!(matches(&q, &r));
        let mut q = parse("decision:none", &cols()).unwrap();
        q.decided = Some(Arc::new(HashMap::from([(7, Verdict::Certify)])));
        assert!(!matches(&q, &r));
    }

    #[test]
    fn the_example_from_the_help() {
        let q = parse("owner:none provider:openai unused>90d alice", &cols()).unwrap();
        assert_eq!(q.terms.len(), 4);
        let r = row("openai", "-", 120, 0);
        assert!(!matches(&q, &r), "no alice anywhere");
        let q = parse("owner:none provider:openai unused>90d", &cols()).unwrap();
        assert!(matches(&q, &r));
        assert!(!matches(&q, &row("openai", "-", 90, 0)), "90 is not > 90");
        assert!(!matches(&q, &row("anthropic", "-", 120, 0)));
        assert!(!matches(&q, &row("openai", "bob@example.com", 120, 0)));
    }

    #[test]
    fn units_negation_and_errors() {
        let c = cols();
        let r = row("openai", "Alice@Example.com", 400, 12_550);
        for (q, want) in [
            ("unused>1y", true),
            ("unused>2y", false),
            ("unused>=57w", true),
            ("spend>125", true),
            ("spend>125.50", false),
            ("spend=$125.50", true),
            ("owner:alice@example", true),
            ("!owner:alice", false),
            ("!provider:cursor", true),
            ("ALICE", true),
            ("owner:none", false),
        ] {
            assert_eq!(matches(&parse(q, &c).unwrap(), &r), want, "{q}");
        }
        assert!(
            parse("colour:red", &c)
                .unwrap_err()
                .contains("provider, owner")
        );
        assert!(parse("unused>soon", &c).unwrap_err().contains("90d"));
        assert!(parse("owner>3", &c).unwrap_err().contains("owner:VALUE"));
        // A row without the number never matches a comparison.
        assert!(!matches(
            &parse("unused<5", &c).unwrap(),
            &row("openai", "x", NONE, 0)
        ));
    }

    #[test]
    fn masks_never_reject_a_real_match() {
        let c = cols();
        for (cell, term) in [
            ("Alice@Example.com", "alice"),
            ("K-9 Unit", "k9"),
            ("\u{212a}elvin", "kelvin"),
            ("path/to:thing", "h/t"),
            ("tab\there", "bh"),
        ] {
            let r = Row::new(
                vec![cell.into(), "-".into(), "1d".into(), "$0".into()],
                vec![NONE, NONE, 1, 0],
                Tone::Normal,
                0,
            );
            let q = parse(term, &c).unwrap();
            let chars: Vec<char> = term.chars().collect();
            assert_eq!(
                matches(&q, &r),
                compact_match(cell, &chars),
                "{cell} / {term}"
            );
        }
        assert_eq!(char_mask("ab") & !char_mask("xyz"), char_mask("ab"));
    }

    #[test]
    fn compact_fuzzy() {
        let t = |s: &str| s.chars().collect::<Vec<_>>();
        assert!(compact_match("orphaned-key", &t("orphan")));
        assert!(compact_match("leaver-with-access", &t("lvr")));
        assert!(compact_match("alice.smith@example.com", &t("alicesmith")));
        assert!(compact_match("Ünïcode Ärger", &t("ärg")));
        assert!(!compact_match(
            "no directory person has this email; account on openai",
            &t("orphan")
        ));
        assert!(!compact_match("abc", &t("abcd")));
    }

    #[test]
    fn filter_keeps_the_given_order_and_both_matchers_agree() {
        use crate::tui::table::{Sort, order, tests::table};
        let t = table();
        let o = order(&t, Some(Sort { col: 1, desc: true }));
        let q = parse("n>1", &t.columns).unwrap();
        assert_eq!(filter(&t, &o, &q), [0, 3]);
        let q = parse("a", &t.columns).unwrap();
        assert_eq!(filter(&t, &o, &q), [3, 1]);
        assert_eq!(filter_skim(&t, &o, &q), [3, 1]);
    }
}
