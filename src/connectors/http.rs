//! The shared HTTP client of every connector: per-request timeouts, retry with exponential
//! backoff and full jitter that honours `Retry-After`, a bound on requests in flight, and
//! errors that name the source and path, say what to do, and never carry a secret.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::gate::Gate;
use crate::model::text::sanitize;
use crate::secret::{Secret, redact};

/// How a source authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    /// `Authorization: Bearer <key>` (OpenAI, SCIM).
    Bearer(Secret),
    /// `x-api-key: <key>` with `anthropic-version` (Anthropic).
    XApiKey(Secret),
    /// HTTP Basic with the key as user name and no password (Cursor).
    BasicUser(Secret),
    /// `Authorization: SSWS <token>` (an Okta API token).
    Ssws(Secret),
    /// `Authorization: Bearer <token>`, the token from an OAuth client-credentials grant
    /// (Microsoft Graph); the key is the client secret.
    ClientCredentials(Arc<super::oauth::ClientCredentials>),
}

impl Auth {
    fn secret(&self) -> &Secret {
        match self {
            Auth::Bearer(s) | Auth::XApiKey(s) | Auth::BasicUser(s) | Auth::Ssws(s) => s,
            Auth::ClientCredentials(c) => &c.secret,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Limits {
    pub concurrency: usize,
    pub timeout: Duration,
    pub max_retries: u32,
    pub max_pages: u32,
    /// The longest `Retry-After` honoured; a longer one is capped to this.
    pub max_retry_after: Duration,
    /// First backoff step; doubled each retry.
    pub backoff_base: Duration,
    /// Requests per minute, evenly spaced; `None` sends as fast as the gate allows.
    pub rate_per_minute: Option<u32>,
    /// How long a request keeps retrying 429s that carry no `Retry-After`, past `max_retries`:
    /// per-minute limits (Cursor's) can hold a burst back for a whole window, which a few quick
    /// retries do not outlast.
    pub rate_patience: Duration,
    /// The longest a source may go without a single answer (any status) before it fails,
    /// naming the request it was waiting for: a provider that accepts connections and never
    /// answers ends here, not after every retry of every request times out.
    pub silence: Duration,
    /// The largest response body read; a longer one fails naming the endpoint and the cap.
    pub max_body: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            concurrency: 16,
            timeout: Duration::from_secs(30),
            max_retries: 8,
            max_pages: 10_000,
            max_retry_after: Duration::from_secs(60),
            backoff_base: Duration::from_millis(200),
            rate_per_minute: None,
            rate_patience: Duration::from_secs(120),
            silence: Duration::from_secs(60),
            max_body: 256 * 1024 * 1024,
        }
    }
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum SourceError {
    #[error(
        "source '{src}': {method} {path} was refused ({status}): the key was not accepted. {hint}"
    )]
    Auth {
        src: String,
        method: String,
        path: String,
        status: u16,
        hint: String,
    },
    #[error(
        "source '{src}': {method} {path} is still rate-limited (429) after {attempts} attempts; try again later or lower `concurrency` for this source"
    )]
    RateLimited {
        src: String,
        method: String,
        path: String,
        attempts: u32,
    },
    #[error(
        "source '{src}': {method} {path} is rate-limited (429), and the provider asks to wait {secs}s before trying again, longer than recert waits ({cap}s); try again later"
    )]
    WaitTooLong {
        src: String,
        method: String,
        path: String,
        secs: u64,
        cap: u64,
    },
    #[error(
        "source '{src}': {method} {path} failed with {status} after {attempts} attempts ({message}); the provider is having trouble, try again later"
    )]
    Transient {
        src: String,
        method: String,
        path: String,
        status: u16,
        attempts: u32,
        message: String,
    },
    #[error(
        "source '{src}': {method} {path} got no answer within {secs}s, {attempts} attempts; check `base_url` and the network, or raise `timeout_secs`"
    )]
    Timeout {
        src: String,
        method: String,
        path: String,
        secs: u64,
        attempts: u32,
    },
    #[error(
        "source '{src}': no answer to anything for {secs}s; gave up waiting for {method} {path}. The provider accepts connections but does not answer: check its status page, or raise `deadline_secs` for this source"
    )]
    Silent {
        src: String,
        method: String,
        path: String,
        secs: u64,
    },
    #[error(
        "source '{src}': {method} {path} answered with more than {cap} bytes, the cap (`max_body_mb`); stopped reading. A provider answer this large is broken or hostile; raise `max_body_mb` for this source only if its lists really are that big"
    )]
    TooLarge {
        src: String,
        method: String,
        path: String,
        cap: u64,
    },
    #[error(
        "source '{src}': {method} {path}: cannot connect ({detail}) after {attempts} attempts; check `base_url` and that the service is up"
    )]
    Connect {
        src: String,
        method: String,
        path: String,
        detail: String,
        attempts: u32,
    },
    #[error(
        "source '{src}': {method} {path} returned a malformed response: {detail}; body starts: {excerpt:?}. Nothing from this sync was stored for this source"
    )]
    Malformed {
        src: String,
        method: String,
        path: String,
        detail: String,
        excerpt: String,
    },
    #[error("source '{src}': {method} {path} was rejected ({status}): {message}")]
    Rejected {
        src: String,
        method: String,
        path: String,
        status: u16,
        message: String,
    },
    #[error("source '{src}': {method} {path} was not found (404): {message}")]
    NotFound {
        src: String,
        method: String,
        path: String,
        message: String,
    },
    #[error(
        "source '{src}': the provider served an unsafe id, so no request was built with it: {detail}"
    )]
    UnsafeId { src: String, detail: String },
    #[error("source '{src}': its key cannot be used: {detail}")]
    BadKey { src: String, detail: String },
    #[error(
        "source '{src}': listing {path} {detail}; stopped after {pages} pages so the sync cannot loop forever. The provider's pagination is broken; raise `max_pages` only if the list is really that long"
    )]
    Pagination {
        src: String,
        path: String,
        detail: String,
        pages: u32,
    },
}

impl SourceError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, SourceError::NotFound { .. })
    }
}

/// A response: status and parsed JSON (`Value::Null` for an empty body).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    /// The `rel="next"` target of its `Link` headers (RFC 8288), as sent.
    pub next: Option<String>,
}

pub struct Http {
    client: reqwest::Client,
    pub source: String,
    base: String,
    auth: Auth,
    hint: String,
    pub limits: Limits,
    gate: Arc<Gate>,
    requests: AtomicU64,
    /// When the next request may go, under `rate_per_minute`.
    next_slot: tokio::sync::Mutex<Option<tokio::time::Instant>>,
    /// The source's own account of its rate-limit window (`X-Rate-Limit-*`), counted down as
    /// requests go out.
    window: std::sync::Mutex<Option<Window>>,
    /// When the source last answered anything, or when a request went out with none other
    /// outstanding: for `silence`. Only time with a request on the wire counts, never the
    /// waits recert chooses (backoff, `Retry-After`, pacing, queueing, idle between stages).
    last_answer: std::sync::Mutex<std::time::Instant>,
    /// Requests on the wire now.
    in_flight: std::sync::atomic::AtomicUsize,
}

/// A source's rate-limit window as it last said: its reset time (UTC epoch seconds, as
/// sent), the requests left in it, and when (on this machine's clock) it resets.
struct Window {
    reset: u64,
    left: u64,
    resets: tokio::time::Instant,
}

/// One request on the wire: counted in `in_flight` until dropped.
struct OnWire<'a>(&'a Http);

impl Drop for OnWire<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Http {
    pub fn new(source: &str, base_url: &str, auth: Auth, hint: String, limits: Limits) -> Http {
        let client = reqwest::Client::builder()
            .user_agent(concat!("recert/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10).min(limits.timeout))
            .pool_max_idle_per_host(limits.concurrency)
            // A redirect would carry the key (a header, or a token request's form body) to
            // wherever it points: answered 3xx is an answer, not an instruction.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a TLS backend is compiled in");
        Http {
            client,
            source: source.to_string(),
            base: base_url.trim_end_matches('/').to_string(),
            auth,
            hint,
            gate: Gate::new(limits.concurrency),
            limits,
            requests: AtomicU64::new(0),
            next_slot: tokio::sync::Mutex::new(None),
            window: std::sync::Mutex::new(None),
            last_answer: std::sync::Mutex::new(std::time::Instant::now()),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// A request goes on the wire; with nothing else outstanding, the source's silence clock
    /// starts now.
    fn on_wire(&self) -> OnWire<'_> {
        if self.in_flight.fetch_add(1, Ordering::SeqCst) == 0 {
            self.heard();
        }
        OnWire(self)
    }

    fn heard(&self) {
        if let Ok(mut t) = self.last_answer.lock() {
            *t = std::time::Instant::now();
        }
    }

    /// How long until the source has been silent for `silence` (zero: it has).
    fn patience_left(&self) -> Duration {
        let since = self
            .last_answer
            .lock()
            .map(|t| t.elapsed())
            .unwrap_or_default();
        self.limits.silence.saturating_sub(since)
    }

    fn silent(&self, m: &str, path: &str) -> SourceError {
        SourceError::Silent {
            src: self.source.clone(),
            method: m.to_string(),
            path: path.to_string(),
            secs: self.limits.silence.as_secs(),
        }
    }

    /// Read a body up to `max_body` bytes: `Ok(None)` when it is longer.
    async fn read_capped(
        &self,
        mut resp: reqwest::Response,
    ) -> Result<Option<Vec<u8>>, reqwest::Error> {
        let cap = self.limits.max_body;
        if resp.content_length().is_some_and(|n| n > cap) {
            return Ok(None);
        }
        let mut out = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            let need = out.len() + chunk.len();
            if need as u64 > cap {
                return Ok(None);
            }
            // Grow by doubling, but never past the cap: a body near the cap must not cost
            // twice the cap in memory.
            if need > out.capacity() {
                let want = (out.capacity() * 2).max(need).min(cap as usize);
                out.reserve_exact(want - out.len());
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Some(out))
    }

    /// Wait for this request's slot under `rate_per_minute`: slots are evenly spaced and handed
    /// out in order, so a burst of tasks is smoothed to the rate instead of earning 429s.
    async fn pace(&self) {
        // A window the source said is spent holds every request until it resets; one with
        // requests left hands them out one each.
        loop {
            let hold = {
                let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
                match w.as_mut() {
                    Some(win) if tokio::time::Instant::now() < win.resets => {
                        if win.left > 0 {
                            win.left -= 1;
                            None
                        } else {
                            Some(win.resets)
                        }
                    }
                    _ => {
                        *w = None;
                        None
                    }
                }
            };
            match hold {
                Some(at) => tokio::time::sleep_until(at).await,
                None => break,
            }
        }
        let Some(rate) = self.limits.rate_per_minute.filter(|r| *r > 0) else {
            return;
        };
        let interval = Duration::from_secs(60) / rate;
        let at = {
            let mut next = self.next_slot.lock().await;
            let now = tokio::time::Instant::now();
            let at = next.map_or(now, |n| n.max(now));
            *next = Some(at + interval);
            at
        };
        tokio::time::sleep_until(at).await;
    }

    /// A path built from provider ids ([`ApiPath`](crate::connectors::path::ApiPath)), or the error that names the unsafe id.
    pub fn path(
        &self,
        built: Result<super::path::ApiPath, super::path::UnsafeId>,
    ) -> Result<String, SourceError> {
        built.map(String::from).map_err(|e| self.unsafe_id(e))
    }

    /// The error for a provider id that cannot go into a request path.
    pub fn unsafe_id(&self, e: super::path::UnsafeId) -> SourceError {
        SourceError::UnsafeId {
            src: self.source.clone(),
            detail: e.to_string(),
        }
    }

    /// Requests sent so far, retries included.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The start of a response body for an error message: known secrets and key-shaped tokens
    /// redacted, control characters made visible. Every `Malformed` error uses this.
    pub fn excerpt(&self, body: &Value) -> String {
        sanitize(&excerpt(&body.to_string(), 120)).into_owned()
    }

    /// `text` with known secrets and key-shaped tokens redacted and control characters visible.
    pub fn scrub(&self, text: &str) -> String {
        sanitize(&redact(text, &[self.auth.secret()])).into_owned()
    }

    /// One page of a list that pages by `Link` headers: `path` (relative to the base URL) for
    /// the first, then the `next` it returns, followed verbatim. A `next` that leaves this
    /// source's base URL is refused, never requested: the key would go with it.
    pub async fn get_linked(
        &self,
        path: &str,
        query: &[(&str, String)],
        next: Option<&str>,
    ) -> Result<(Value, Option<String>), SourceError> {
        let reply = match next {
            None => self.request(Method::GET, path, query, None, false).await?,
            Some(url) => {
                let rest = url
                    .strip_prefix(&self.base)
                    .filter(|r| r.starts_with('/') && !climbs(r))
                    .ok_or_else(|| SourceError::Malformed {
                        src: self.source.clone(),
                        method: "GET".into(),
                        path: shown(path),
                        detail: "its next page (`Link: rel=\"next\"`) lies outside the source's base URL; it was not followed, so the key was not sent there".into(),
                        excerpt: self.scrub(&excerpt(url, 120)),
                    })?;
                self.request(Method::GET, rest, &[], None, true).await?
            }
        };
        Ok((reply.body, reply.next))
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, SourceError> {
        Ok(self
            .request(Method::GET, path, query, None, false)
            .await?
            .body)
    }

    /// A later page of a list being walked: it goes ahead of new work when slots are scarce.
    pub async fn get_next_page(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, SourceError> {
        Ok(self
            .request(Method::GET, path, query, None, true)
            .await?
            .body)
    }

    /// Send one request, retrying what is worth retrying. `path` is relative to the base URL.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<(&str, Value)>,
    ) -> Result<Reply, SourceError> {
        self.request(method, path, query, body, false).await
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<(&str, Value)>,
        continuation: bool,
    ) -> Result<Reply, SourceError> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let shown = shown(path);
        let m = method.to_string();
        let mut attempt: u32 = 0;
        let started = std::time::Instant::now();
        // An OAuth token the API called expired is fetched again once per request.
        let mut renewed = false;
        // Time this request has spent on the wire with no answer, over all its attempts.
        let mut unanswered = Duration::ZERO;
        loop {
            attempt += 1;
            let last = attempt > self.limits.max_retries;
            // A retry of anything is as urgent as a continuation: it has already waited.
            let permit = self.gate.acquire(continuation || attempt > 1).await;
            self.pace().await;
            let token = match &self.auth {
                Auth::ClientCredentials(c) => {
                    // The token endpoint answers within the same deadline as the API.
                    let fetched = tokio::time::timeout(
                        self.limits.silence,
                        c.token(&self.client, &self.source, self.limits.timeout),
                    )
                    .await;
                    match fetched {
                        Ok(t) => Some(t?),
                        Err(_) => return Err(self.silent("POST", "the token endpoint")),
                    }
                }
                _ => None,
            };
            let mut req = self
                .client
                .request(method.clone(), &url)
                .query(query)
                .timeout(self.limits.timeout)
                .header("accept", "application/json");
            req = match &self.auth {
                Auth::Bearer(s) => req.bearer_auth(s.expose()),
                Auth::XApiKey(s) => req
                    .header("x-api-key", s.expose())
                    .header("anthropic-version", "2023-06-01"),
                Auth::BasicUser(s) => req.basic_auth(s.expose(), Some("")),
                Auth::Ssws(s) => {
                    let mut v =
                        reqwest::header::HeaderValue::from_str(&format!("SSWS {}", s.expose()))
                            .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static("SSWS"));
                    v.set_sensitive(true);
                    req.header("authorization", v)
                }
                Auth::ClientCredentials(_) => match &token {
                    Some(t) => req.bearer_auth(t.expose()),
                    None => req,
                },
            };
            if let Some((content_type, b)) = &body {
                req = req
                    .header("content-type", *content_type)
                    .body(b.to_string());
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            // The silence deadline bounds every wait for an answer: the source's (nothing
            // answered while requests were out) and this request's own, over its retries.
            let wire = self.on_wire();
            let left = self
                .patience_left()
                .min(self.limits.silence.saturating_sub(unanswered));
            if left.is_zero() {
                return Err(self.silent(&m, &shown));
            }
            let sent_at = std::time::Instant::now();
            let sent = tokio::time::timeout(left, req.send()).await;
            let (status, headers, bytes) = match sent {
                Err(_) => return Err(self.silent(&m, &shown)),
                Ok(Ok(resp)) => {
                    self.heard();
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    // A body is part of the answer: one that trickles and never ends is as
                    // silent as no answer, and the same deadline bounds it.
                    let body_left = self.limits.silence.saturating_sub(unanswered);
                    let read = tokio::time::timeout(body_left, self.read_capped(resp)).await;
                    let Ok(read) = read else {
                        return Err(self.silent(&m, &shown));
                    };
                    match read {
                        Ok(Some(b)) => (status, headers, b),
                        Ok(None) => {
                            return Err(SourceError::TooLarge {
                                src: self.source.clone(),
                                method: m,
                                path: shown,
                                cap: self.limits.max_body,
                            });
                        }
                        Err(e) => {
                            drop(permit);
                            drop(wire);
                            if e.is_timeout() {
                                unanswered += sent_at.elapsed();
                                if unanswered >= self.limits.silence {
                                    return Err(self.silent(&m, &shown));
                                }
                            }
                            if last {
                                return Err(self.transport_error(&m, &shown, &e, attempt));
                            }
                            self.backoff(attempt, None).await;
                            continue;
                        }
                    }
                }
                Ok(Err(e)) => {
                    drop(permit);
                    drop(wire);
                    if e.is_timeout() {
                        unanswered += sent_at.elapsed();
                        if self.patience_left().is_zero() || unanswered >= self.limits.silence {
                            return Err(self.silent(&m, &shown));
                        }
                    }
                    if last {
                        return Err(self.transport_error(&m, &shown, &e, attempt));
                    }
                    self.backoff(attempt, None).await;
                    continue;
                }
            };
            drop(permit);
            drop(wire);
            self.note_window(&headers);
            let text = String::from_utf8_lossy(&bytes);
            if status.is_success() {
                let next = link_next(&headers);
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return Ok(Reply {
                        status,
                        body: Value::Null,
                        next,
                    });
                }
                return match serde_json::from_slice::<Value>(&bytes) {
                    Ok(v) => Ok(Reply {
                        status,
                        body: v,
                        next,
                    }),
                    Err(e) => Err(SourceError::Malformed {
                        src: self.source.clone(),
                        method: m,
                        path: shown,
                        detail: format!("not valid JSON ({e})"),
                        excerpt: sanitize(&excerpt(&text, 120)).into_owned(),
                    }),
                };
            }
            let message = self.scrub(&error_message(&text));
            if status.as_u16() == 401
                && !renewed
                && let (Auth::ClientCredentials(c), Some(t)) = (&self.auth, &token)
            {
                // Expired (or revoked) under us: one new token, then the answer stands.
                renewed = true;
                c.forget(t).await;
                continue;
            }
            match status.as_u16() {
                401 | 403 => {
                    return Err(SourceError::Auth {
                        src: self.source.clone(),
                        method: m,
                        path: shown,
                        status: status.as_u16(),
                        hint: format!("{}. To fix: {}", message.trim_end_matches('.'), self.hint),
                    });
                }
                404 => {
                    return Err(SourceError::NotFound {
                        src: self.source.clone(),
                        method: m,
                        path: shown,
                        message,
                    });
                }
                429 => {
                    // Asked to wait longer than recert ever waits: waiting the cap, retry after
                    // retry, would not get an answer the provider refuses before then (and a
                    // hostile one stalls its client that way).
                    if let Some(w) = wait_hint(&headers)
                        && w > self.limits.max_retry_after
                    {
                        return Err(SourceError::WaitTooLong {
                            src: self.source.clone(),
                            method: m,
                            path: shown,
                            secs: w.as_secs(),
                            cap: self.limits.max_retry_after.as_secs(),
                        });
                    }
                    let patient = wait_hint(&headers).is_none()
                        && started.elapsed() < self.limits.rate_patience;
                    if last && !patient {
                        return Err(SourceError::RateLimited {
                            src: self.source.clone(),
                            method: m,
                            path: shown,
                            attempts: attempt,
                        });
                    }
                    let wait = wait_hint(&headers).map(|d| d.min(self.limits.max_retry_after));
                    tracing::debug!(source = %self.source, path = %shown, ?wait, "429, backing off");
                    self.backoff(attempt, wait).await;
                }
                500..=599 => {
                    if last {
                        return Err(SourceError::Transient {
                            src: self.source.clone(),
                            method: m,
                            path: shown,
                            status: status.as_u16(),
                            attempts: attempt,
                            message,
                        });
                    }
                    let wait = retry_after(&headers).map(|d| d.min(self.limits.max_retry_after));
                    self.backoff(attempt, wait).await;
                }
                code => {
                    return Err(SourceError::Rejected {
                        src: self.source.clone(),
                        method: m,
                        path: shown,
                        status: code,
                        message,
                    });
                }
            }
        }
    }

    /// A source that says how much of its rate-limit window is left (Okta's `X-Rate-Limit-*`):
    /// keep count of it (less the requests still on the wire, which it may not have counted
    /// yet), so that requests beyond it wait for the reset instead of earning 429s.
    fn note_window(&self, headers: &reqwest::header::HeaderMap) {
        let (Some(remaining), Some(reset), Some(wait)) = (
            header_u64(headers, "x-rate-limit-remaining"),
            header_u64(headers, "x-rate-limit-reset"),
            window_reset(headers),
        ) else {
            return;
        };
        let left = remaining.saturating_sub(self.in_flight.load(Ordering::SeqCst) as u64);
        let resets = tokio::time::Instant::now() + wait.min(self.limits.max_retry_after);
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        match w.as_mut() {
            // The same window: answers arrive out of order; the lowest count is the truest.
            Some(win) if win.reset == reset => win.left = win.left.min(left),
            Some(win) if win.reset > reset => {}
            _ => {
                *w = Some(Window {
                    reset,
                    left,
                    resets,
                })
            }
        }
        if left == 0 {
            tracing::debug!(source = %self.source, ?wait, "rate-limit window spent; holding requests until it resets");
        }
    }

    fn transport_error(
        &self,
        m: &str,
        path: &str,
        e: &reqwest::Error,
        attempts: u32,
    ) -> SourceError {
        if e.is_timeout() {
            SourceError::Timeout {
                src: self.source.clone(),
                method: m.to_string(),
                path: path.to_string(),
                secs: self.limits.timeout.as_secs(),
                attempts,
            }
        } else {
            let mut detail = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                detail = format!("{detail}: {c}");
                cause = c.source();
            }
            SourceError::Connect {
                src: self.source.clone(),
                method: m.to_string(),
                path: path.to_string(),
                detail: self.scrub(&detail),
                attempts,
            }
        }
    }

    /// Sleep before retry `attempt`: the server's `Retry-After` when given (plus a little jitter
    /// so a crowd of clients does not return at once), else exponential backoff with full jitter.
    async fn backoff(&self, attempt: u32, retry_after: Option<Duration>) {
        let wait = match retry_after {
            Some(d) => d + Duration::from_millis((jitter() * 250.0) as u64),
            None => {
                let cap = self
                    .limits
                    .backoff_base
                    .saturating_mul(1u32 << attempt.min(10))
                    .min(Duration::from_secs(20));
                cap.mul_f64(0.5 + jitter() / 2.0)
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// How long a 429 asks to wait: `Retry-After`, else the time until the rate-limit window resets
/// (`X-Rate-Limit-Reset`, Okta's).
pub(crate) fn wait_hint(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    retry_after(headers).or_else(|| window_reset(headers))
}

fn header_u64(headers: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The time until `X-Rate-Limit-Reset` (UTC epoch seconds), measured against the response's
/// own `Date` when it has one (so a skewed local clock does not matter), plus a second, as
/// Okta's SDKs wait.
fn window_reset(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let reset = i64::try_from(header_u64(headers, "x-rate-limit-reset")?).ok()?;
    let now = headers
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .map(|d| d.timestamp())
        .unwrap_or_else(|| chrono::Utc::now().timestamp());
    Some(Duration::from_secs(
        reset.saturating_sub(now).max(0) as u64 + 1,
    ))
}

/// Whether a path (after the base URL) has a dot segment, as written or percent-encoded
/// (`..`, `%2e%2e`, `.%2E`, `.`): a URL library and a server resolve those, so a path that
/// starts inside the base URL may end outside it.
fn climbs(path: &str) -> bool {
    // A URL parser reads `\` as `/` and drops tabs and line breaks: `.\t./` is `../`.
    if path.contains(['\\', '\t', '\n', '\r']) {
        return true;
    }
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.split('/').any(|seg| {
        let seg = seg.to_ascii_lowercase().replace("%2e", ".");
        seg == "." || seg == ".."
    })
}

/// The `rel="next"` target among a response's `Link` headers (RFC 8288): there may be several
/// header lines, and one line may hold several comma-separated links.
pub fn link_next(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(','))
        .find_map(|link| {
            let (target, params) = link.trim().split_once(';')?;
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            params
                .split(';')
                .filter_map(|p| p.trim().split_once('='))
                .any(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("rel")
                        && v.trim()
                            .trim_matches('"')
                            .split_whitespace()
                            .any(|r| r.eq_ignore_ascii_case("next"))
                })
                .then(|| target.to_string())
        })
}

/// `Retry-After` as delta-seconds or an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<f64>() {
        // "inf", "NaN" or 1e20 from a hostile server is no wait recert can honour.
        return Duration::try_from_secs_f64(secs).ok();
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = when.timestamp() - chrono::Utc::now().timestamp();
    Some(Duration::from_secs(delta.max(0) as u64))
}

/// A uniform draw in 0..1 from the standard library's per-process random hasher keys.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The human part of a provider's error body: OpenAI/Anthropic `error.message`, SCIM `detail`,
/// Cursor `message`; otherwise the start of the body (HTML error pages included).
pub fn error_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        // Okta: `errorCode` is for flow control, `errorSummary` for people (and `errorCauses`).
        if let Some(summary) = v.pointer("/errorSummary").and_then(Value::as_str) {
            let code = v
                .pointer("/errorCode")
                .and_then(Value::as_str)
                .unwrap_or("");
            let causes: Vec<&str> = v
                .pointer("/errorCauses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("errorSummary").and_then(Value::as_str))
                .collect();
            let mut text = format!("{code} {summary}").trim().to_string();
            if !causes.is_empty() {
                text = format!("{text} ({})", causes.join("; "));
            }
            return excerpt(&text, 300);
        }
        // Microsoft Graph: branch on `error.code`, show it with the message.
        if let (Some(code), Some(msg)) = (
            v.pointer("/error/code").and_then(Value::as_str),
            v.pointer("/error/message").and_then(Value::as_str),
        ) {
            return excerpt(&format!("{code}: {msg}"), 300);
        }
        for ptr in ["/error/message", "/detail", "/message", "/error"] {
            if let Some(s) = v.pointer(ptr).and_then(Value::as_str) {
                return excerpt(s, 300);
            }
        }
    }
    if body.trim().is_empty() {
        "empty body".into()
    } else {
        excerpt(body, 120)
    }
}

/// The start of `s`, redacted whole before it is cut (a key straddling the cut cannot survive
/// in part).
fn excerpt(s: &str, max: usize) -> String {
    crate::secret::redacted_excerpt(s, max)
}

/// A request path as errors show it (`/organization/users`): for a person to read, never to
/// send (requests are built from `connectors::path`'s encoded segments).
pub(crate) fn shown(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pacing_spaces_requests_evenly_and_in_order() {
        let limits = Limits {
            rate_per_minute: Some(1200), // one every 50 ms
            ..Limits::default()
        };
        let h = Arc::new(Http::new(
            "t",
            "http://127.0.0.1:9",
            Auth::Bearer(crate::secret::Secret::new("k")),
            String::new(),
            limits,
        ));
        let t = std::time::Instant::now();
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let h = h.clone();
                tokio::spawn(async move { h.pace().await })
            })
            .collect();
        for x in tasks {
            x.await.unwrap();
        }
        // Six slots: the first at once, the last five intervals later; never sooner.
        assert!(
            t.elapsed() >= Duration::from_millis(250),
            "{:?}",
            t.elapsed()
        );
        // Unpaced clients do not wait.
        let free = Http::new(
            "t",
            "http://127.0.0.1:9",
            Auth::Bearer(crate::secret::Secret::new("k")),
            String::new(),
            Limits::default(),
        );
        let t = std::time::Instant::now();
        for _ in 0..100 {
            free.pace().await;
        }
        assert!(t.elapsed() < Duration::from_millis(250));
    }

    #[test]
    fn error_messages_from_each_envelope() {
        assert_eq!(
            error_message(r#"{"error":{"message":"bad","type":"x"}}"#),
            "bad"
        );
        assert_eq!(
            error_message(r#"{"schemas":[],"status":404,"detail":"gone"}"#),
            "gone"
        );
        assert_eq!(
            error_message(r#"{"error":"x","message":"slow down"}"#),
            "slow down"
        );
        assert_eq!(
            error_message("<html>Server Error</html>"),
            "<html>Server Error</html>"
        );
        assert_eq!(error_message(""), "empty body");
        assert_eq!(
            error_message(
                r#"{"errorCode":"E0000001","errorSummary":"Api validation failed","errorLink":"E0000001","errorId":"x","errorCauses":[{"errorSummary":"login: already exists"}]}"#
            ),
            "E0000001 Api validation failed (login: already exists)"
        );
    }

    #[test]
    fn the_next_link_among_several_lines_and_entries() {
        let mut h = reqwest::header::HeaderMap::new();
        h.append(
            "link",
            "<https://x.okta.com/api/v1/logs?limit=20>; rel=\"self\""
                .parse()
                .unwrap(),
        );
        assert_eq!(link_next(&h), None, "self only: the list ends");
        h.append(
            "link",
            "<https://x.okta.com/api/v1/logs?limit=20&after=1627500044869_1>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            link_next(&h).as_deref(),
            Some("https://x.okta.com/api/v1/logs?limit=20&after=1627500044869_1")
        );
        // One line, comma-separated, unquoted and upper-case rel.
        let mut one = reqwest::header::HeaderMap::new();
        one.insert(
            "link",
            "<https://a/x?p=1>; rel=self, <https://a/x?p=2>; title=\"t\"; REL=next"
                .parse()
                .unwrap(),
        );
        assert_eq!(link_next(&one).as_deref(), Some("https://a/x?p=2"));
    }

    #[test]
    fn the_reset_time_is_read_against_the_answer_s_own_clock() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("date", "Sun, 06 Dec 2026 12:00:00 GMT".parse().unwrap());
        // 12:00:30 UTC: thirty seconds after the answer's own Date, plus one.
        h.insert("x-rate-limit-reset", "1796558430".parse().unwrap());
        assert_eq!(window_reset(&h), Some(Duration::from_secs(31)));
        assert_eq!(wait_hint(&h), Some(Duration::from_secs(31)));
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(
            wait_hint(&h),
            Some(Duration::from_secs(3)),
            "Retry-After first"
        );
    }

    /// A next page outside the source's base URL is never requested: the token would go to
    /// whoever it names.
    #[tokio::test]
    async fn a_next_page_elsewhere_is_refused_unsent() {
        let h = Http::new(
            "okta",
            "http://127.0.0.1:9/okta",
            Auth::Ssws(crate::secret::Secret::new("tok")),
            String::new(),
            Limits::default(),
        );
        for next in [
            "http://evil.example/okta/api/v1/users?after=x",
            "http://127.0.0.1:9/okta.evil.example/api/v1/users",
            "http://127.0.0.1:9/okta@evil.example/api",
            "https://127.0.0.1:9/okta/api/v1/users",
            // Dot segments, as written and percent-encoded: a URL library (and a server)
            // resolves them to a path outside the base.
            "http://127.0.0.1:9/okta/api/v1/../../../leak/users?after=zzz",
            "http://127.0.0.1:9/okta/%2e%2e/leak",
            "http://127.0.0.1:9/okta/api/.%2E/%2e./x",
            "http://127.0.0.1:9/okta/./../x",
            "http://127.0.0.1:9/okta/api\\..\\..\\leak",
            "http://127.0.0.1:9/okta/.\t./leak",
        ] {
            let err = h
                .get_linked("api/v1/users", &[], Some(next))
                .await
                .unwrap_err();
            assert!(
                err.to_string().contains("outside the source's base URL"),
                "{next}: {err}"
            );
        }
        assert_eq!(h.requests(), 0, "nothing was sent");
    }

    #[test]
    fn a_hostile_retry_after_is_no_wait() {
        let mut h = reqwest::header::HeaderMap::new();
        for v in ["inf", "NaN", "1e20", "-1", "-0.5"] {
            h.insert("retry-after", v.parse().unwrap());
            assert_eq!(retry_after(&h), None, "{v}");
        }
        h.remove("retry-after");
        h.insert(
            "x-rate-limit-reset",
            "18446744073709551615".parse().unwrap(),
        );
        assert_eq!(window_reset(&h), None, "a reset past i64");
        h.insert("date", "Thu, 01 Jan 1970 00:00:00 GMT".parse().unwrap());
        h.insert("x-rate-limit-reset", "9223372036854775807".parse().unwrap());
        assert!(window_reset(&h).is_some(), "no overflow");
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn jitter_is_in_range_and_varies() {
        let draws: Vec<f64> = (0..100).map(|_| jitter()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        assert!(draws.windows(2).any(|w| w[0] != w[1]));
    }
}
