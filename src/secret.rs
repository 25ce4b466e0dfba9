//! Secrets never reach a log, an error, a panic or the screen: `Secret` hides itself from
//! `Debug`/`Display`, and `redact` scrubs known secrets and anything shaped like a provider key
//! from text before it is shown or written.

use std::fmt;

/// An admin key or token. Only `expose` reveals it, at the point it goes into a request header.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Prefixes of provider keys: OpenAI (`sk-`, `sk-admin-`, `sk-proj-`, `sk-svcacct-`),
/// Anthropic (`sk-ant-`), Cursor (`key_` hex tokens are ids, not secrets, and stay).
const KEY_PREFIXES: &[&str] = &["sk-"];

/// Replace every occurrence of `secrets` (of 4+ characters) and every `sk-...` token that is not
/// a provider's own redacted form (`sk-abc...def`) with `[REDACTED]`.
pub fn redact(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.0.len() >= 4 {
            out = out.replace(&s.0, "[REDACTED]");
        }
    }
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(pos) = KEY_PREFIXES.iter().filter_map(|p| rest.find(p)).min() {
        result.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
            .unwrap_or(tail.len());
        let token = &tail[..end];
        if token.contains("...") || token.len() < 12 {
            result.push_str(token);
        } else {
            result.push_str("[REDACTED]");
        }
        rest = &tail[end..];
    }
    result.push_str(rest);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("sk-admin-supersecret");
        assert_eq!(format!("{s:?} {s}"), "Secret([REDACTED]) [REDACTED]");
    }

    #[test]
    fn redacts_known_and_key_shaped_secrets_but_keeps_redacted_forms() {
        let s = Secret::new("hunter2-token");
        let text = "bad key hunter2-token and sk-proj-AbCdEf0123456789xyz, shown as sk-abc...def";
        assert_eq!(
            redact(text, &[&s]),
            "bad key [REDACTED] and [REDACTED], shown as sk-abc...def"
        );
    }
}
