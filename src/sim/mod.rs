//! The provider simulator: serves the OpenAI admin API and a SCIM 2.0 directory on loopback,
//! from a generated organisation with planted gaps; applies mutations; injects faults.
//! `recert sim`, `recert demo`, the tests and the benchmarks all use it.
// Handlers return `Result<Response, Response>`, axum's idiom; the size of the error is moot.
#![allow(clippy::result_large_err)]

mod anthropic;
pub mod assertion;
mod cursor;
mod entra;
pub mod faults;
mod okta;
mod openai;
pub mod rng;
mod scim;
mod truth;
pub mod world;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use faults::{FaultKind, Faults};
use rng::Rng;
use world::{Size, World};

/// How to run a simulator.
#[derive(Clone, Debug)]
pub struct SimOptions {
    pub listen: SocketAddr,
    pub size: Size,
    pub seed: u64,
    /// The simulated present (unix seconds); the organisation's dates are relative to it.
    pub now: i64,
    pub latency: Duration,
    pub faults: Faults,
    /// The admin key every simulated provider accepts.
    pub key: String,
    /// The window of Cursor's per-endpoint request limits (documented per minute; tests use
    /// shorter windows; zero turns the limits off).
    pub cursor_window: Duration,
    /// Append one JSON line per request served to this file (method, path, status, time).
    pub request_log: Option<std::path::PathBuf>,
    /// A limit on writes (every request but GET) across all providers: at most this many per
    /// window, answered with 429 and no `Retry-After` beyond it, as Cursor does.
    pub write_limit: Option<(u32, Duration)>,
    /// Plant hostile text in names ([`world::HOSTILE`]).
    pub hostile: bool,
    /// Okta's rate-limit bucket: this many requests per window across its endpoints (Okta's
    /// documented example is 1,000 a minute for `/api/v1/users`).
    pub okta_rate: (u32, Duration),
    /// How long an Entra access token lives (Microsoft's are about an hour).
    pub entra_token_ttl: Duration,
    /// The lifetime the token answer claims (`expires_in`), when it is not the real one: a
    /// token revoked or expired before its time.
    pub entra_token_claims: Option<Duration>,
    /// The Entra app lacks `User-LifeCycleInfo.Read.All`: selecting the leave date is refused.
    pub entra_no_lifecycle: bool,
    /// The Entra tenant has no P1/P2 licence: selecting `signInActivity` refuses the whole
    /// user list, and the provisioning logs are refused.
    pub entra_no_premium: bool,
    /// The first this many token requests are throttled: 429 with `Retry-After: 2`, as
    /// Microsoft's identity platform answers a burst.
    pub entra_token_throttled: u32,
    /// The Okta service app requires DPoP-bound tokens (recert does not send DPoP proofs).
    pub okta_dpop: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            size: Size::Small,
            seed: 1,
            now: chrono::Utc::now().timestamp(),
            latency: Duration::ZERO,
            faults: Faults::default(),
            key: DEFAULT_KEY.into(),
            cursor_window: Duration::from_secs(60),
            request_log: None,
            write_limit: None,
            hostile: false,
            okta_rate: (1000, Duration::from_secs(60)),
            entra_token_ttl: Duration::from_secs(3599),
            entra_token_claims: None,
            entra_no_lifecycle: false,
            entra_no_premium: false,
            entra_token_throttled: 0,
            okta_dpop: false,
        }
    }
}

pub const DEFAULT_KEY: &str = "sim-admin-key";
/// The simulated Entra tenant and the app registration recert signs in as (its client secret
/// is the simulator's key).
pub const ENTRA_TENANT: &str = "sim-tenant";
pub const ENTRA_CLIENT_ID: &str = "5e7c0a11-0000-4000-8000-00000000c11e";

/// Which of the simulator's directory APIs a config reads the people from (the same people).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Directory {
    /// A SCIM 2.0 server.
    #[default]
    Scim,
    /// Okta's management API.
    Okta,
    /// Microsoft Graph (Entra ID), with a client-credentials token.
    Entra,
}

impl Directory {
    /// The name of the directory source in a config written for this simulator: what every
    /// finding and note calls it (`directory` for the SCIM server, else the identity provider's
    /// own name).
    pub fn source_name(self) -> &'static str {
        match self {
            Directory::Scim => world::DIRECTORY_SOURCE,
            Directory::Okta => "okta",
            Directory::Entra => "entra",
        }
    }
}

/// Shared state of a running simulator. Tests may read and change the world directly.
pub struct SimState {
    pub world: RwLock<World>,
    key: String,
    latency: Duration,
    faults: RwLock<Faults>,
    rng: Mutex<Rng>,
    requests: AtomicU64,
    endless: AtomicU64,
    cursor_window: Duration,
    cursor_limits: Mutex<std::collections::HashMap<&'static str, (std::time::Instant, u32)>>,
    request_log: Option<Mutex<std::fs::File>>,
    write_limit: Option<(u32, Duration)>,
    write_window: Mutex<(std::time::Instant, u32)>,
    /// Every request that was not a GET, in the order served: what reached the providers.
    mutations: Mutex<Vec<Served>>,
    okta_rate: (u32, Duration),
    /// Okta's current window: when it began and the requests taken from it.
    okta_window: Mutex<(std::time::Instant, u32)>,
    /// Entra access tokens issued, and when each expires.
    entra_tokens: Mutex<std::collections::HashMap<String, std::time::Instant>>,
    entra_issued: AtomicU64,
    entra_token_ttl: Duration,
    entra_token_claims: Option<Duration>,
    entra_no_lifecycle: bool,
    entra_no_premium: bool,
    /// Token requests still to throttle.
    entra_token_throttled: AtomicU64,
    okta_dpop: bool,
}

/// One request the simulator served, as the request log records it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Served {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// RFC 3339, milliseconds.
    pub time: String,
}

impl SimState {
    /// Requests served so far (every request, including faulted ones).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Every non-GET request served so far, in order.
    pub fn mutations(&self) -> Vec<Served> {
        self.mutations.lock().unwrap().clone()
    }

    /// Entra access tokens issued so far.
    pub fn entra_tokens_issued(&self) -> u64 {
        self.entra_issued.load(Ordering::Relaxed)
    }

    /// Replace the active faults (tests switch faults on and off between syncs).
    pub fn set_faults(&self, faults: Faults) {
        *self.faults.write().unwrap() = faults;
    }
}

/// A simulator listening on loopback.
pub struct RunningSim {
    pub addr: SocketAddr,
    pub state: Arc<SimState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningSim {
    pub fn openai_url(&self) -> String {
        format!("http://{}/openai/v1", self.addr)
    }
    pub fn scim_url(&self) -> String {
        format!("http://{}/scim/v2", self.addr)
    }
    pub fn anthropic_url(&self) -> String {
        format!("http://{}/anthropic", self.addr)
    }
    pub fn cursor_url(&self) -> String {
        format!("http://{}/cursor", self.addr)
    }
    /// The simulated Okta org's base URL.
    pub fn okta_url(&self) -> String {
        format!("http://{}/okta", self.addr)
    }
    /// The simulated Microsoft Graph's base URL.
    pub fn graph_url(&self) -> String {
        format!("http://{}/graph/v1.0", self.addr)
    }
    /// The simulated Entra tenant's token endpoint.
    pub fn entra_token_url(&self) -> String {
        format!(
            "http://{}/entra/{ENTRA_TENANT}/oauth2/v2.0/token",
            self.addr
        )
    }

    /// The one line `recert sim` prints once it listens.
    pub fn urls_json(&self) -> String {
        serde_json::json!({
            "openai": self.openai_url(),
            "anthropic": self.anthropic_url(),
            "cursor": self.cursor_url(),
            "scim": self.scim_url(),
            "okta": self.okta_url(),
            "entra": self.graph_url(),
            "entra_token": self.entra_token_url(),
        })
        .to_string()
    }

    /// A recert config whose sources point at this simulator, keys from `RECERT_SIM_KEY`, the
    /// people from its SCIM directory.
    pub fn config_toml(&self) -> String {
        self.config_toml_with(Directory::Scim)
    }

    /// An Okta or Entra source's settings for the AI platforms' apps (each provider source's
    /// app id in that identity provider) and, for Okta, the leave-date attribute.
    fn idp_settings(&self, directory: Directory) -> String {
        let w = self.state.world.read().unwrap();
        let id = |a: &world::IdpApp| match directory {
            Directory::Entra => a.entra_id.clone(),
            _ => a.okta_id.clone(),
        };
        let apps: Vec<String> = w
            .idp
            .apps
            .iter()
            .map(|(source, a)| format!("{source} = \"{}\"", id(a)))
            .collect();
        match directory {
            Directory::Scim => String::new(),
            Directory::Okta => format!(
                "apps = {{ {} }}\nleave_attribute = \"terminationDate\"\n",
                apps.join(", ")
            ),
            Directory::Entra => format!("apps = {{ {} }}\n", apps.join(", ")),
        }
    }

    /// [`RunningSim::config_toml`] with the people read from `directory`.
    pub fn config_toml_with(&self, directory: Directory) -> String {
        let (kind, url) = match directory {
            Directory::Scim => ("scim", self.scim_url()),
            Directory::Okta => ("okta", self.okta_url()),
            Directory::Entra => (
                "entra",
                format!(
                    "{}\"\ntenant = \"{ENTRA_TENANT}\"\nclient_id = \"{ENTRA_CLIENT_ID}\"\ntoken_url = \"{}",
                    self.graph_url(),
                    self.entra_token_url()
                ),
            ),
        };
        format!(
            "# Written by `recert sim --write-config`: sources pointing at a simulator on {addr}.\n\
             # The key comes from the environment: export RECERT_SIM_KEY=<the simulator's --key>.\n\n\
             [[source]]\nname = \"{oa}\"\nkind = \"openai\"\nbase_url = \"{ou}\"\nkey_env = \"RECERT_SIM_KEY\"\n\n\
             [[source]]\nname = \"{an}\"\nkind = \"anthropic\"\nbase_url = \"{au}\"\nkey_env = \"RECERT_SIM_KEY\"\n\n\
             [[source]]\nname = \"{cu}\"\nkind = \"cursor\"\nbase_url = \"{cuu}\"\nkey_env = \"RECERT_SIM_KEY\"\n\n\
             [[source]]\nname = \"{dir}\"\nkind = \"{kind}\"\nbase_url = \"{url}\"\n{idp}key_env = \"RECERT_SIM_KEY\"\n\n\
             [rules]\nadmin_groups = [\"{ag}\"]\n",
            addr = self.addr,
            oa = world::OPENAI_SOURCE,
            dir = directory.source_name(),
            idp = self.idp_settings(directory),
            ag = world::ADMIN_GROUP,
            an = world::ANTHROPIC_SOURCE,
            cu = world::CURSOR_SOURCE,
            au = self.anthropic_url(),
            cuu = self.cursor_url(),
            ou = self.openai_url(),
        )
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// The whole ground truth of a sync of `w` whose people come from `directory`: with Okta or
/// Entra (every app configured, as `config_toml_with` writes it), the identity-provider rules'
/// findings too.
pub fn truth_for(w: &World, directory: Directory) -> Vec<crate::model::Finding> {
    let mut t = w.truth.clone();
    if directory != Directory::Scim {
        t.extend(truth::idp(w));
    }
    t
}

/// [`truth_for`] a directory that reports no provisioning outcomes (an Entra tenant without a
/// premium licence).
pub fn truth_without_pushes(w: &World, directory: Directory) -> Vec<crate::model::Finding> {
    let mut t = w.truth.clone();
    if directory != Directory::Scim {
        t.extend(truth::idp_seen(w, false));
    }
    t
}

/// The organisation for `size` and `seed` at `now`, with its whole ground truth: the gaps the
/// generator planted, minus those in archived containers, plus those the oracle derives.
pub fn generate(size: world::Size, seed: u64, now: crate::model::Ts) -> World {
    let mut w = world::build(size, seed, now);
    truth::drop_inert(&mut w);
    let derived = truth::derive(&w);
    w.truth.extend(derived);
    w
}

/// Generate the organisation and start serving it.
pub async fn start(opts: SimOptions) -> std::io::Result<RunningSim> {
    let mut world = generate(opts.size, opts.seed, opts.now);
    if opts.hostile {
        world.plant_hostile();
    }
    world.admin_key_is(&opts.key);
    start_with(world, opts).await
}

/// Serve an already generated (or hand-edited) world.
pub async fn start_with(world: World, opts: SimOptions) -> std::io::Result<RunningSim> {
    let request_log = match &opts.request_log {
        Some(p) => Some(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?,
        )),
        None => None,
    };
    let state = Arc::new(SimState {
        request_log,
        mutations: Mutex::new(Vec::new()),
        world: RwLock::new(world),
        key: opts.key,
        latency: opts.latency,
        faults: RwLock::new(opts.faults),
        rng: Mutex::new(Rng::new(opts.seed.wrapping_mul(31).wrapping_add(7))),
        requests: AtomicU64::new(0),
        endless: AtomicU64::new(0),
        cursor_window: opts.cursor_window,
        cursor_limits: Mutex::new(Default::default()),
        write_limit: opts.write_limit,
        write_window: Mutex::new((std::time::Instant::now(), 0)),
        okta_rate: opts.okta_rate,
        okta_window: Mutex::new((std::time::Instant::now(), 0)),
        entra_tokens: Mutex::new(Default::default()),
        entra_issued: AtomicU64::new(0),
        entra_token_ttl: opts.entra_token_ttl,
        entra_token_claims: opts.entra_token_claims,
        entra_no_lifecycle: opts.entra_no_lifecycle,
        entra_no_premium: opts.entra_no_premium,
        entra_token_throttled: AtomicU64::new(u64::from(opts.entra_token_throttled)),
        okta_dpop: opts.okta_dpop,
    });
    let app = Router::new()
        .nest("/openai/v1", openai::router())
        .nest("/anthropic", anthropic::router())
        .nest("/cursor", cursor::router())
        .nest("/scim/v2", scim::router())
        .nest("/okta", okta::router())
        .nest("/entra", entra::token_router())
        .nest("/graph/v1.0", entra::graph_router())
        .fallback(|| async { (StatusCode::NOT_FOUND, "no simulated provider here\n") })
        .layer(axum::middleware::from_fn_with_state(state.clone(), inject))
        .layer(axum::middleware::from_fn_with_state(state.clone(), record))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind(opts.listen).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(RunningSim {
        addr,
        state,
        shutdown: Some(tx),
        task: Some(task),
    })
}

pub(crate) type Shared = Arc<SimState>;

/// Query parameters, accepting both `name=` and `name[]=` for arrays.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub fn from_uri(uri: &Uri) -> Params {
        Params(
            url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .map(|(k, v)| (k.trim_end_matches("[]").to_string(), v.into_owned()))
                .collect(),
        )
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

fn is_scim(path: &str) -> bool {
    path.starts_with("/scim/")
}

/// The error envelope of whichever provider `path` belongs to.
pub(crate) fn provider_error(
    path: &str,
    status: StatusCode,
    message: &str,
    kind: &str,
) -> Response {
    let text = status.canonical_reason().unwrap_or("Error");
    if is_scim(path) {
        scim::error(status, message, None)
    } else if path.starts_with("/okta/") {
        okta::error(status, message)
    } else if path.starts_with("/graph/") || path.starts_with("/entra/") {
        entra::error(status, entra::code_for(status), message)
    } else if path.starts_with("/anthropic/") {
        let kind = match status.as_u16() {
            403 => "permission_error",
            429 => "rate_limit_error",
            500.. => "api_error",
            _ => "invalid_request_error",
        };
        anthropic::error(status, kind, message)
    } else if path.starts_with("/cursor/") {
        cursor::error(status, text, message)
    } else {
        openai::error(status, message, kind, None, None)
    }
}

/// The outermost layer: note what was served (after faults), in the request log and, for
/// anything but a GET, in memory. Each line is written whole, so a reader never sees half one.
async fn record(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let served = Served {
        method,
        path,
        status: resp.status().as_u16(),
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    if let Some(f) = &st.request_log {
        use std::io::Write;
        let mut line = serde_json::to_string(&served).unwrap_or_default();
        line.push('\n');
        let _ = f.lock().unwrap().write_all(line.as_bytes());
    }
    if served.method != "GET" {
        st.mutations.lock().unwrap().push(served);
    }
    resp
}

async fn inject(State(st): State<Shared>, mut req: Request, next: Next) -> Response {
    st.requests.fetch_add(1, Ordering::Relaxed);
    if !st.latency.is_zero() {
        tokio::time::sleep(st.latency).await;
    }
    let path = req.uri().path().to_string();
    if let Some((per, window)) = st.write_limit
        && req.method() != axum::http::Method::GET
    {
        let mut w = st.write_window.lock().unwrap();
        let now = std::time::Instant::now();
        if now.duration_since(w.0) >= window {
            *w = (now, 0);
        }
        if w.1 >= per {
            return provider_error(
                &path,
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit reached for writes. Please slow down.",
                "requests",
            );
        }
        w.1 += 1;
    }
    let picked = {
        let faults = st.faults.read().unwrap();
        let mut rng = st.rng.lock().unwrap();
        faults.pick(&path, || {
            (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        })
    };
    let has = |k| picked.contains(&k);
    {
        // A server that supports neither paging nor filtering parameters fails on them.
        let params = Params::from_uri(req.uri());
        let paging = params.get("count").is_some() || params.get("startIndex").is_some();
        if (has(FaultKind::NoPaging) && paging)
            || (has(FaultKind::NoFilter) && params.get("filter").is_some())
        {
            return provider_error(
                &path,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error: unsupported query parameter",
                "server_error",
            );
        }
    }
    if has(FaultKind::Timeout) {
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
    // When a 429 and a 500 both fire, the one listed first in the spec answers: a fault aimed
    // at one path, listed before a random one over many, is what that path always gets.
    let answer = picked.iter().find(|k| {
        matches!(
            k,
            FaultKind::TooMany | FaultKind::Hold | FaultKind::ServerError
        )
    });
    if answer == Some(&FaultKind::Hold) {
        let mut r = provider_error(
            &path,
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit reached for requests. Please try again tomorrow.",
            "requests",
        );
        r.headers_mut()
            .insert("retry-after", HeaderValue::from_static("86400"));
        return r;
    }
    if answer == Some(&FaultKind::TooMany) {
        let mut r = provider_error(
            &path,
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit reached for requests. Please try again in 1s.",
            "requests",
        );
        if path.starts_with("/okta/") {
            // Okta says when its window resets, not how long to wait.
            let reset = chrono::Utc::now().timestamp() + 1;
            let h = r.headers_mut();
            h.insert("x-rate-limit-limit", HeaderValue::from_static("1000"));
            h.insert("x-rate-limit-remaining", HeaderValue::from_static("0"));
            if let Ok(v) = HeaderValue::from_str(&reset.to_string()) {
                h.insert("x-rate-limit-reset", v);
            }
        } else {
            r.headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
        }
        return r;
    }
    if has(FaultKind::Echo) && path.starts_with("/entra/") {
        // A token endpoint that quotes the client secret it was sent back in its error.
        let body = axum::body::to_bytes(req.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        let secret = url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == "client_secret")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        return (
            StatusCode::UNAUTHORIZED,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            serde_json::json!({"error": "invalid_client",
                "error_description": format!("AADSTS7000215: Invalid client secret provided: '{secret}'."),
                "error_codes": [7000215]})
            .to_string(),
        )
            .into_response();
    }
    if has(FaultKind::Echo) {
        let h = req.headers();
        let cred = h
            .get("authorization")
            .or_else(|| h.get("x-api-key"))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        return provider_error(
            &path,
            StatusCode::UNAUTHORIZED,
            &format!("Invalid credentials: {cred} was not accepted for this organization"),
            "authentication_error",
        );
    }
    if has(FaultKind::Flood) {
        // A 200 whose body never ends: a list that starts well and goes on forever.
        let head = futures::stream::once(async {
            Ok::<_, std::convert::Infallible>(axum::body::Bytes::from_static(
                b"{\"object\":\"list\",\"data\":[",
            ))
        });
        let chunk = axum::body::Bytes::from("{\"id\":\"flood\"},".repeat(4096));
        let tail = futures::stream::repeat_with(move || Ok(chunk.clone()));
        use futures::StreamExt;
        return Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(Body::from_stream(head.chain(tail)))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    if has(FaultKind::Drip) {
        // Headers at once, then a body one byte a second that never completes.
        use futures::StreamExt;
        let drip = futures::stream::unfold(0u64, |n| async move {
            if n > 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let byte: &'static [u8] = if n == 0 { b"{" } else { b" " };
            Some((
                Ok::<_, std::convert::Infallible>(axum::body::Bytes::from_static(byte)),
                n + 1,
            ))
        })
        .boxed();
        return Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(Body::from_stream(drip))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    if has(FaultKind::Forbidden) {
        return provider_error(
            &path,
            StatusCode::FORBIDDEN,
            "This key does not have permission for this endpoint.",
            "invalid_request_error",
        );
    }
    if has(FaultKind::NotFound) {
        return provider_error(
            &path,
            StatusCode::NOT_FOUND,
            "Not found: this feature is not available for this organization.",
            "invalid_request_error",
        );
    }
    if answer == Some(&FaultKind::ServerError) {
        return provider_error(
            &path,
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
        );
    }
    let endless = has(FaultKind::Endless);
    let repeat = has(FaultKind::Repeat);
    if (endless || repeat || has(FaultKind::NoStart))
        && (is_scim(&path) || path.starts_with("/cursor/"))
    {
        // A server that ignores startIndex (SCIM) or page (Cursor's numbered pages, in the
        // query) and serves its first page forever.
        let skip = if is_scim(&path) { "startIndex" } else { "page" };
        let params = Params::from_uri(req.uri());
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params.0.iter().filter(|(k, _)| k != skip) {
            q.append_pair(k, v);
        }
        let pq = format!("{path}?{}", q.finish());
        if let Ok(uri) = pq.parse() {
            *req.uri_mut() = uri;
        }
    }
    let self_url = format!(
        "http://{}{path}",
        req.headers()
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1")
    );
    let mut resp = next.run(req).await;
    if (endless || repeat) && path.starts_with("/okta/") {
        // A next page that never ends, or the same one again, in Okta's `Link` header.
        let after = if endless {
            format!("cursor-{}", st.endless.fetch_add(1, Ordering::Relaxed))
        } else {
            "cursor-repeat".to_string()
        };
        let next = format!("<{self_url}?after={after}&limit=200>; rel=\"next\"");
        let h = resp.headers_mut();
        h.remove(axum::http::header::LINK);
        if let Ok(v) = HeaderValue::from_str(&next) {
            h.append(axum::http::header::LINK, v);
        }
        return resp;
    }
    if !(endless || repeat || has(FaultKind::Truncate)) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut bytes = bytes.to_vec();
    if (endless || repeat)
        && let Ok(mut v) = serde_json::from_slice::<Value>(&bytes)
    {
        // OpenAI lists say `"object":"list"`; Anthropic's have `data` and `has_more` only.
        let id_list = v.get("object").and_then(Value::as_str) == Some("list")
            || (v.get("data").is_some() && v.get("has_more").is_some());
        if path.starts_with("/graph/") && v.get("value").is_some() {
            let token = if endless {
                format!("cursor-{}", st.endless.fetch_add(1, Ordering::Relaxed))
            } else {
                "cursor-repeat".to_string()
            };
            v["@odata.nextLink"] = Value::String(format!("{self_url}?$skiptoken={token}"));
        } else if id_list {
            let cursor = if endless {
                format!("cursor-{}", st.endless.fetch_add(1, Ordering::Relaxed))
            } else {
                "cursor-repeat".to_string()
            };
            v["has_more"] = Value::Bool(true);
            v["last_id"] = Value::String(cursor);
        } else if v.get("Resources").is_some() {
            v["totalResults"] = Value::from(1_000_000_000u64);
        } else if let Some(p) = v.get_mut("pagination").and_then(Value::as_object_mut) {
            p.insert("hasNextPage".into(), Value::Bool(true));
        }
        bytes = serde_json::to_vec(&v).unwrap_or(bytes);
    }
    if has(FaultKind::Truncate) {
        bytes.truncate(bytes.len() / 2);
    }
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

/// Check a bearer token in constant time with respect to its contents.
pub(crate) fn bearer_ok(headers: &axum::http::HeaderMap, key: &str) -> bool {
    let Some(got) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    same(got, key)
}

/// Compare a presented key with the real one in time independent of where they differ.
pub(crate) fn same(got: &str, key: &str) -> bool {
    got.len() == key.len()
        && got
            .bytes()
            .zip(key.bytes())
            .fold(0u8, |a, (x, y)| a | (x ^ y))
            == 0
}

/// What the request presented as a bearer token (the OpenAI 401 echoes it, as the real API does
/// in part; recert must redact it).
pub(crate) fn presented_key(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_start_matches("Bearer ").to_string())
        .unwrap_or_default()
}

pub(crate) fn iso(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// An `application/x-www-form-urlencoded` body (a token request's).
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub(crate) fn parse(body: &str) -> Form {
        Form(
            url::form_urlencoded::parse(body.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `k`, or empty.
    pub(crate) fn get(&self, k: &str) -> &str {
        self.0
            .iter()
            .find(|(x, _)| x == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}
