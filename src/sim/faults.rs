//! Fault injection for the simulator: `--faults "429:0.3,truncate@organization/users"`.
//!
//! Grammar: a comma-separated list of `KIND[:RATE][@PATH]`. `PATH` matches any request path
//! containing it; ending in `$`, only paths ending in it (`500@organization/users/u1$` hits
//! the user, not `organization/users/u1/roles`).
//! - `KIND` is one of `429` (with `Retry-After: 1`), `hold` (a 429 with `Retry-After:
//!   86400`), `500`, `403` (the key lacks the
//!   permission: the provider's own error envelope), `404` (the organisation does not have
//!   the feature, in the same envelope), `truncate` (the body cut in half),
//!   `endless` (list responses always claim another page, with a fresh cursor each time),
//!   `repeat` (list responses always claim another page with the same cursor; SCIM ignores
//!   `startIndex`, Cursor's numbered pages `page` in the query), `timeout` (the response is held
//!   for 120 s), `echo` (a 401 whose message quotes the request's `Authorization` or
//!   `x-api-key` header back, in the provider's own envelope and auth scheme), `flood` (a 200
//!   whose body never ends), `nopaging` (a request carrying paging parameters, `count` or
//!   `startIndex`, is answered 500, as servers that do not support them do; without them,
//!   the whole list), `nofilter` (a request carrying `filter` is answered 500), `nostart`
//!   (`startIndex` ignored: every page from the first, `count` and the totals honest).
//! - `RATE` is the probability per matching request, 0–1 (default 1).
//! - `PATH` limits the fault to request paths containing that text (default: every path).
//! - When a `429` and a `500` both fire on one request, the one listed first answers.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    TooMany,
    /// A 429 whose `Retry-After` asks for a day: a server that wants to be left alone, or
    /// one stalling its client.
    Hold,
    ServerError,
    Forbidden,
    /// A 404 in the provider's envelope: the organisation does not have the feature.
    NotFound,
    Truncate,
    Endless,
    Repeat,
    Timeout,
    /// A 401 whose message echoes the request's credential (`Authorization` or `x-api-key`)
    /// back, as a careless or hostile server does.
    Echo,
    /// A 200 whose body never ends.
    Flood,
    /// A 200 whose body comes one byte a second, forever: never silent, never done.
    Drip,
    /// Paging parameters (`count`, `startIndex`) answered with a server error.
    NoPaging,
    /// A `filter` parameter answered with a server error.
    NoFilter,
    /// `startIndex` ignored (SCIM): every page is the first, honestly counted.
    NoStart,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    pub rate: f64,
    pub path: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults(pub Vec<Fault>);

#[derive(Debug, PartialEq, Eq)]
pub struct FaultSpecError(pub String);

impl fmt::Display for FaultSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}; expected KIND[:RATE][@PATH] with KIND one of 429, 500, 403, 404, truncate, endless, repeat, timeout, echo, flood, drip, nopaging, nofilter, nostart",
            self.0
        )
    }
}

impl std::error::Error for FaultSpecError {}

impl Faults {
    pub fn parse(spec: &str) -> Result<Faults, FaultSpecError> {
        let mut out = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (head, path) = match item.split_once('@') {
                Some((h, p)) if !p.is_empty() => (h, Some(p.to_string())),
                Some(_) => return Err(FaultSpecError(format!("`{item}` has an empty path"))),
                None => (item, None),
            };
            let (kind, rate) = match head.split_once(':') {
                Some((k, r)) => {
                    let rate: f64 = r
                        .parse()
                        .map_err(|_| FaultSpecError(format!("`{r}` in `{item}` is not a rate")))?;
                    if !(0.0..=1.0).contains(&rate) {
                        return Err(FaultSpecError(format!(
                            "rate {rate} in `{item}` is outside 0–1"
                        )));
                    }
                    (k, rate)
                }
                None => (head, 1.0),
            };
            let kind = match kind {
                "429" => FaultKind::TooMany,
                "hold" => FaultKind::Hold,
                "500" => FaultKind::ServerError,
                "403" => FaultKind::Forbidden,
                "404" => FaultKind::NotFound,
                "truncate" => FaultKind::Truncate,
                "endless" => FaultKind::Endless,
                "repeat" => FaultKind::Repeat,
                "timeout" => FaultKind::Timeout,
                "echo" => FaultKind::Echo,
                "flood" => FaultKind::Flood,
                "drip" => FaultKind::Drip,
                "nopaging" => FaultKind::NoPaging,
                "nofilter" => FaultKind::NoFilter,
                "nostart" => FaultKind::NoStart,
                other => return Err(FaultSpecError(format!("unknown fault `{other}`"))),
            };
            out.push(Fault { kind, rate, path });
        }
        Ok(Faults(out))
    }

    /// The faults that apply to `path`, each decided by `roll` (a uniform draw in 0..1).
    pub fn pick(&self, path: &str, mut roll: impl FnMut() -> f64) -> Vec<FaultKind> {
        self.0
            .iter()
            .filter(|f| {
                f.path.as_deref().is_none_or(|p| match p.strip_suffix('$') {
                    Some(end) => path.ends_with(end),
                    None => path.contains(p),
                })
            })
            .filter(|f| f.rate >= 1.0 || roll() < f.rate)
            .map(|f| f.kind)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_rates_and_paths() {
        let f = Faults::parse("429:0.3, truncate@organization/users,500:1@/scim").unwrap();
        assert_eq!(f.0.len(), 3);
        assert_eq!(
            f.0[0],
            Fault {
                kind: FaultKind::TooMany,
                rate: 0.3,
                path: None
            }
        );
        assert_eq!(f.0[1].path.as_deref(), Some("organization/users"));
        assert_eq!(f.pick("/openai/v1/organization/users", || 0.0).len(), 2);
        assert_eq!(
            f.pick("/scim/v2/Users", || 0.9),
            vec![FaultKind::ServerError]
        );
    }

    #[test]
    fn a_path_ending_in_a_dollar_matches_only_paths_ending_there() {
        let f = Faults::parse("500@organization/users/u1$").unwrap();
        assert_eq!(f.pick("/openai/v1/organization/users/u1", || 0.0).len(), 1);
        assert!(
            f.pick("/openai/v1/organization/users/u1/roles", || 0.0)
                .is_empty()
        );
        assert!(
            f.pick("/openai/v1/organization/users/u10", || 0.0)
                .is_empty()
        );
    }

    #[test]
    fn rejects_nonsense() {
        assert!(Faults::parse("teapot").is_err());
        assert!(Faults::parse("429:2").is_err());
        assert!(Faults::parse("429:x").is_err());
        assert!(Faults::parse("500@").is_err());
    }
}
