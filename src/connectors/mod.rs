//! One folder per source. Each turns wire JSON into model types (and, from the remediation
//! issue on, model actions into wire calls). `http` is the client they share.

pub mod anthropic;
pub mod assertion;
pub mod csv;
pub mod cursor;
pub mod directory;
pub mod entra;
pub mod feed;
mod gate;
pub mod http;
pub mod oauth;
pub mod okta;
pub mod openai;
pub mod paging;
pub mod path;
pub mod scim;
mod wire;

use std::time::Duration;

use crate::config::SourceConfig;
use crate::model::{SourceData, SourceKind};
use crate::secret::Secret;
use http::{Auth, Http, Limits, SourceError};

/// The HTTP client for a configured source, with its limits applied.
pub fn client(src: &SourceConfig, key: Secret) -> Http {
    let d = Limits::default();
    let limits = Limits {
        concurrency: src.concurrency.unwrap_or(d.concurrency),
        timeout: src
            .timeout_secs
            .map(Duration::from_secs)
            .unwrap_or(d.timeout),
        max_retries: src.max_retries.unwrap_or(d.max_retries),
        max_pages: src.max_pages.unwrap_or(d.max_pages),
        rate_per_minute: src.rate_per_minute,
        silence: src
            .deadline_secs
            .map(Duration::from_secs)
            .unwrap_or(d.silence),
        max_body: src
            .max_body_mb
            .map(|mb| mb.saturating_mul(1024 * 1024))
            .unwrap_or(d.max_body),
        ..d
    };
    let auth = match src.source_kind() {
        SourceKind::Anthropic => Auth::XApiKey(key),
        SourceKind::Cursor => Auth::BasicUser(key),
        SourceKind::OpenAi | SourceKind::Scim | SourceKind::Csv => Auth::Bearer(key),
        SourceKind::Okta => match &src.client_id {
            // An API Services app: `private_key_jwt` at the org authorization server.
            Some(id) => {
                Auth::ClientCredentials(std::sync::Arc::new(oauth::ClientCredentials::with_key(
                    &src.token_endpoint(),
                    id,
                    key,
                    okta::SCOPES,
                    assertion::Alg::Rs256,
                    src.key_id.iter().map(|k| ("kid", k.clone())).collect(),
                )))
            }
            None => Auth::Ssws(key),
        },
        SourceKind::Entra => {
            let (url, id) = (
                src.token_endpoint(),
                src.client_id.clone().unwrap_or_default(),
            );
            let thumbprint = src
                .certificate_thumbprint
                .as_deref()
                .and_then(|t| assertion::thumbprint(t).ok());
            Auth::ClientCredentials(std::sync::Arc::new(match thumbprint {
                // A certificate: PS256 with its SHA-256 thumbprint, RS256 with its SHA-1.
                Some((name, value)) => oauth::ClientCredentials::with_key(
                    &url,
                    &id,
                    key,
                    entra::SCOPE,
                    if name == "x5t" {
                        assertion::Alg::Rs256
                    } else {
                        assertion::Alg::Ps256
                    },
                    vec![(name, value)],
                ),
                None => oauth::ClientCredentials::new(&url, &id, key, entra::SCOPE),
            }))
        }
    };
    Http::new(&src.name, &src.base_url, auth, src.key_hint(), limits)
}

/// Pull everything a source holds; its windowed feeds on from `prior` where they can be, up
/// to `now` (the sync's clock: how far back each report and log is read is counted from it).
pub async fn fetch(
    src: &SourceConfig,
    http: &std::sync::Arc<Http>,
    prior: &feed::Prior,
    now: crate::model::Ts,
) -> Result<SourceData, SourceError> {
    match src.source_kind() {
        SourceKind::OpenAi => openai::fetch(http, src.page_size.unwrap_or(100), prior, now).await,
        SourceKind::Anthropic => {
            anthropic::fetch(http, src.page_size.unwrap_or(1000), prior, now).await
        }
        SourceKind::Cursor => cursor::fetch(http, prior, now).await,
        SourceKind::Scim => scim::fetch(http, src.page_size.unwrap_or(1000)).await,
        SourceKind::Okta => {
            let reading = directory::Reading::of(src, now);
            okta::fetch(http, src.page_size.unwrap_or(200), &reading).await
        }
        SourceKind::Entra => {
            let reading = directory::Reading::of(src, now);
            entra::fetch(http, &reading).await
        }
        SourceKind::Csv => unreachable!("csv sources are files, read by `sync` without a client"),
    }
}

/// A report the org may not have (permission, plan): its absence means "unknown", not failure.
pub(crate) async fn optional<T>(
    f: impl std::future::Future<Output = Result<T, SourceError>>,
) -> Result<Option<T>, SourceError> {
    match f.await {
        Ok(v) => Ok(Some(v)),
        Err(e @ (SourceError::NotFound { .. } | SourceError::Auth { status: 403, .. })) => {
            tracing::warn!(error = %e, "optional endpoint unavailable (plan or key permissions); skipped");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
