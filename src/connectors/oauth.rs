//! OAuth 2.0 client credentials (RFC 6749 §4.4), as Microsoft's identity platform issues
//! tokens for Graph (`directories.md`, B.2) and Okta's org authorization server for its
//! service apps (A.2.2): a form POST of the client id and either its secret or an assertion
//! signed with its private key (`connectors::assertion`), for the scopes asked; a bearer token
//! with `expires_in` and no refresh token. The token is kept until shortly before it expires
//! and fetched again then, or at once when the API says it has expired. The secret goes only
//! in the form body; the token is a secret too (the redactor learns it as it arrives).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::{SourceError, error_message};
use crate::model::text::sanitize;
use crate::secret::{Secret, redact};

/// The longest a `Retry-After` from the token endpoint is honoured.
const MAX_WAIT: Duration = Duration::from_secs(60);

pub struct ClientCredentials {
    pub token_url: String,
    pub client_id: String,
    /// The client secret, or the private key an assertion is signed with: redacted from
    /// everything shown either way.
    pub secret: Secret,
    /// With a private key: its signer, or why the key cannot sign.
    signer: Option<Result<super::assertion::Signer, String>>,
    pub scope: String,
    /// The token and when to fetch the next one.
    cached: tokio::sync::Mutex<Option<(Secret, Instant)>>,
    /// Why the token endpoint failed, once it has: every later request says so at once.
    broken: tokio::sync::Mutex<Option<SourceError>>,
    fetched: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl ClientCredentials {
    pub fn new(token_url: &str, client_id: &str, secret: Secret, scope: &str) -> ClientCredentials {
        ClientCredentials {
            token_url: token_url.to_string(),
            client_id: client_id.to_string(),
            secret,
            signer: None,
            scope: scope.to_string(),
            cached: tokio::sync::Mutex::new(None),
            broken: tokio::sync::Mutex::new(None),
            fetched: Default::default(),
        }
    }

    /// A client that proves itself with an assertion signed by `key` (its private key).
    pub fn with_key(
        token_url: &str,
        client_id: &str,
        key: Secret,
        scope: &str,
        alg: super::assertion::Alg,
        names: Vec<(&'static str, String)>,
    ) -> ClientCredentials {
        // Okta allows an hour; Entra wants five to ten minutes. Five is enough for one POST.
        let signer = super::assertion::Signer::new(&key, alg, names, 300);
        ClientCredentials {
            signer: Some(signer),
            ..ClientCredentials::new(token_url, client_id, key, scope)
        }
    }

    /// Tokens fetched so far.
    pub fn fetched(&self) -> u64 {
        self.fetched.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A token with time left on it: the kept one, or a new one.
    pub async fn token(
        &self,
        client: &reqwest::Client,
        source: &str,
        timeout: Duration,
    ) -> Result<Secret, SourceError> {
        let mut cached = self.cached.lock().await;
        if let Some((t, renew_at)) = &*cached
            && Instant::now() < *renew_at
        {
            return Ok(t.clone());
        }
        if let Some(e) = self.broken.lock().await.clone() {
            // One failure is the answer for every waiting request of this sync.
            return Err(e);
        }
        let (token, lifetime) = match self.fetch(client, source, timeout).await {
            Ok(t) => t,
            Err(e) => {
                *self.broken.lock().await = Some(e.clone());
                return Err(e);
            }
        };
        // Renew with a margin: half its life, at most five minutes early.
        let margin = (lifetime / 2).min(Duration::from_secs(300));
        *cached = Some((token.clone(), Instant::now() + lifetime - margin));
        Ok(token)
    }

    /// The API refused `stale` as expired: drop it, unless a newer one already replaced it.
    pub async fn forget(&self, stale: &Secret) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|(t, _)| t == stale) {
            *cached = None;
        }
    }

    /// The token request's form body (it holds the secret or a fresh assertion: built here,
    /// sent, dropped); why not, when the private key cannot sign.
    fn form(&self) -> Result<String, String> {
        let mut f = url::form_urlencoded::Serializer::new(String::new());
        f.append_pair("client_id", &self.client_id);
        match &self.signer {
            None => {
                f.append_pair("client_secret", self.secret.expose());
            }
            Some(Err(why)) => return Err(why.clone()),
            Some(Ok(signer)) => {
                let now = chrono::Utc::now().timestamp();
                let jwt = signer.assertion(&self.client_id, &self.token_url, now)?;
                f.append_pair(
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                );
                f.append_pair("client_assertion", &jwt);
            }
        }
        Ok(f.append_pair("scope", &self.scope)
            .append_pair("grant_type", "client_credentials")
            .finish())
    }

    async fn fetch(
        &self,
        client: &reqwest::Client,
        source: &str,
        timeout: Duration,
    ) -> Result<(Secret, Duration), SourceError> {
        let shown = "the token endpoint".to_string();
        let scrub = |t: &str| sanitize(&redact(t, &[&self.secret])).into_owned();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let form = self.form().map_err(|why| SourceError::BadKey {
                src: source.to_string(),
                detail: format!(
                    "the private key cannot sign: {why}. Store the key again (`recert login {source}`, or its environment variable)"
                ),
            })?;
            self.fetched
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let sent = client
                .post(&self.token_url)
                .timeout(timeout)
                .header("accept", "application/json")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) if attempt < 4 => {
                    tracing::debug!(source, error = %scrub(&e.to_string()), "token request failed; retrying");
                    tokio::time::sleep(Duration::from_millis(300 * u64::from(attempt))).await;
                    continue;
                }
                Err(e) => {
                    return Err(SourceError::Connect {
                        src: source.to_string(),
                        method: "POST".into(),
                        path: shown,
                        detail: scrub(&e.to_string()),
                        attempts: attempt,
                    });
                }
            };
            let status = resp.status().as_u16();
            let asked = super::http::wait_hint(resp.headers());
            // A token answer is small: a longer one is cut, never read whole.
            let mut body = Vec::new();
            let mut resp = resp;
            while let Ok(Some(chunk)) = resp.chunk().await {
                body.extend_from_slice(&chunk);
                if body.len() > 64 * 1024 {
                    break;
                }
            }
            let text = String::from_utf8_lossy(&body).into_owned();
            if (status == 429 || status >= 500) && attempt < 4 {
                // Throttled: as long as the endpoint says (up to a minute, as for every API), never sooner;
                // asking early only counts against the client again.
                let wait = asked
                    .map(|d| d.min(MAX_WAIT))
                    .unwrap_or(Duration::from_millis(500 * u64::from(attempt)));
                tracing::debug!(
                    source,
                    status,
                    wait_ms = wait.as_millis() as u64,
                    "token endpoint busy; waiting"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if (200..300).contains(&status) {
                // The token is a secret from the moment it is read, errors included.
                let token = v
                    .get("access_token")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .map(Secret::new);
                // `expires_in` is only recommended (RFC 6749 §5.1): without it, an hour, and a
                // 401 fetches a new one sooner; never more than a day.
                let lifetime = match v.get("expires_in") {
                    Some(Value::Number(n)) => n.as_u64(),
                    Some(Value::String(s)) => s.trim().parse().ok(),
                    _ => None,
                }
                .unwrap_or(3600)
                .clamp(1, 86_400);
                return match token {
                    Some(t) => Ok((t, Duration::from_secs(lifetime))),
                    None => Err(SourceError::Malformed {
                        src: source.to_string(),
                        method: "POST".into(),
                        path: shown,
                        detail: "the token answer has no access_token".into(),
                        excerpt: scrub(&crate::secret::redacted_excerpt(&text, 120)),
                    }),
                };
            }
            // `{"error":"invalid_client","error_description":"AADSTS7000215: ..."}`.
            let what = match (
                v.get("error").and_then(Value::as_str),
                v.get("error_description").and_then(Value::as_str),
            ) {
                (Some(e), Some(d)) => format!("{e}: {}", d.lines().next().unwrap_or(d)),
                (Some(e), None) => e.to_string(),
                _ => error_message(&text),
            };
            let what = scrub(&what);
            let code = v.get("error").and_then(Value::as_str).unwrap_or("");
            let fix = if matches!(code, "invalid_dpop_proof" | "use_dpop_nonce") {
                "this Okta service app requires DPoP-bound tokens, which recert does not send: in the app's General settings, turn off \"Require Demonstrating Proof of Possession (DPoP) header in token requests\"".to_string()
            } else if self.signer.is_some() {
                "check client_id and the key id or certificate thumbprint in the config, and that the app holds this private key's public key or certificate (Okta: the app's JWKS and its granted okta.*.read scopes; Entra: AADSTS700027 is a signature the app's certificate does not verify)".to_string()
            } else {
                "check tenant and client_id in the config, and that the client secret (the key) is current; AADSTS7000215 is a wrong secret, 7000222 an expired one, 700016 an app not in this tenant".to_string()
            };
            return Err(match status {
                400 | 401 | 403 => SourceError::Auth {
                    src: source.to_string(),
                    method: "POST".into(),
                    path: shown,
                    status,
                    hint: format!("{what}. To fix: {fix}"),
                },
                _ => SourceError::Transient {
                    src: source.to_string(),
                    method: "POST".into(),
                    path: shown,
                    status,
                    attempts: attempt,
                    message: what,
                },
            });
        }
    }
}
