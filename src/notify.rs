//! Messages to people through a chat tool's incoming webhook (Slack's and Microsoft Teams'
//! both take `{"text": ...}`). The webhook URL is a secret (whoever holds it can post as
//! recert): it comes from the environment or the OS keyring, never the config file, and the
//! redactor learns its secret part before anything could print it.

use std::time::Duration;

use crate::config::{Config, KEYRING_SERVICE};
use crate::secret::Secret;

/// The environment variable that holds the webhook URL unless `[notify] webhook_env` names
/// another.
pub const DEFAULT_ENV: &str = "RECERT_WEBHOOK_URL";

/// The keyring entry (service `recert`) that holds it otherwise.
pub const KEYRING_ENTRY: &str = "webhook";

/// An incoming webhook.
pub struct Webhook {
    url: Secret,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Webhook([REDACTED])")
    }
}

impl Webhook {
    /// `url`, with the redactor taught its secret part (the path and query: the host is
    /// not a secret, and learning it would scrub every mention of it).
    pub fn new(url: &str) -> Result<Webhook, String> {
        let parsed = reqwest::Url::parse(url.trim()).map_err(|_| {
            "the webhook URL is not a URL (check the environment variable or keyring entry)"
                .to_string()
        })?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err("the webhook URL must be https:// (or http:// on loopback)".into());
        }
        let token = format!(
            "{}{}",
            parsed.path(),
            parsed.query().map(|q| format!("?{q}")).unwrap_or_default()
        );
        crate::secret::learn(&token);
        Ok(Webhook {
            url: Secret::new(url.trim()),
        })
    }

    /// The chat webhook of `cfg`: `[notify] webhook_env` (default `RECERT_WEBHOOK_URL`),
    /// else the keyring entry `recert`/`webhook`.
    pub fn configured(cfg: &Config) -> Result<Webhook, String> {
        let var = cfg.notify.webhook_env.as_deref().unwrap_or(DEFAULT_ENV);
        Webhook::from_env_or_keyring(var, KEYRING_ENTRY)
    }

    /// The webhook whose URL is in the environment variable `var`, else in the keyring entry
    /// `recert`/`entry`.
    pub fn from_env_or_keyring(var: &str, entry: &'static str) -> Result<Webhook, String> {
        if let Ok(v) = std::env::var(var)
            && !v.trim().is_empty()
        {
            return Webhook::new(&v);
        }
        let got = crate::config::off_runtime(move || {
            keyring::Entry::new(KEYRING_SERVICE, entry).and_then(|e| e.get_password())
        });
        match got {
            Ok(v) if !v.trim().is_empty() => Webhook::new(&v),
            _ => Err(format!(
                "no webhook URL: set {var}, or store it in the OS keyring (service `{KEYRING_SERVICE}`, entry `{entry}`); never in the config file"
            )),
        }
    }

    /// POST `payload`; the status on a 2xx, else what went wrong, never with the URL in it.
    pub async fn post(&self, payload: &serde_json::Value) -> Result<u16, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| e.without_url().to_string())?;
        let res = client
            .post(self.url.expose())
            .json(payload)
            .send()
            .await
            .map_err(|e| crate::secret::redact(&e.without_url().to_string(), &[]))?;
        let status = res.status();
        if status.is_success() {
            Ok(status.as_u16())
        } else {
            let body = res.text().await.unwrap_or_default();
            Err(format!(
                "the webhook answered {status}: {}",
                crate::secret::redacted_excerpt(&body, 200)
            ))
        }
    }
}

/// A chat message: `{"text": TEXT}`, what Slack's and Teams' incoming webhooks take.
pub fn message(text: &str) -> serde_json::Value {
    serde_json::json!({ "text": text })
}
