//! Cursor Admin API: `/teams/members` (one unpaginated list; ids are numbers in older
//! responses and `user_...` strings in newer ones; removed members are skipped whether they
//! are omitted or flagged `isRemoved`). Basic auth with the key as user name. Cursor sends no
//! `Retry-After` on 429: the shared client backs off exponentially.

use std::sync::Arc;

use serde::Deserialize;

use super::http::{Http, SourceError};
use super::wire;
use crate::model::{Account, SourceData};

#[derive(Deserialize)]
struct WMember {
    #[serde(default, deserialize_with = "wire::opt_id")]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default, rename = "isRemoved", deserialize_with = "wire::flag")]
    is_removed: Option<bool>,
}

#[derive(Deserialize)]
struct WMembers {
    #[serde(rename = "teamMembers")]
    team_members: Vec<WMember>,
}

/// Pull a Cursor team.
pub async fn fetch(http: &Arc<Http>) -> Result<SourceData, SourceError> {
    let body = http.get("teams/members", &[]).await?;
    let list = WMembers::deserialize(&body).map_err(|e| SourceError::Malformed {
        src: http.source.clone(),
        method: "GET".into(),
        path: "/teams/members".into(),
        detail: format!("unexpected shape ({e})"),
        excerpt: body.to_string().chars().take(120).collect(),
    })?;
    let mut d = SourceData::default();
    for m in list.team_members {
        if m.is_removed == Some(true) {
            continue;
        }
        // The oldest responses have no id: the email is the only key.
        let Some(id) = m.id.clone().or_else(|| m.email.clone()) else {
            continue;
        };
        d.accounts.push(Account {
            source: http.source.clone(),
            provider: "cursor".into(),
            id,
            email: m.email,
            name: m.name,
            role: m.role,
            added_at: None,
            last_active_at: None,
            scim_managed: None,
        });
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numeric_and_string_ids_and_removed_members() {
        let l = WMembers::deserialize(&json!({"teamMembers": [
            {"id": 12345, "name": "A", "email": "a@x", "role": "member", "isRemoved": false},
            {"id": "user_PDS", "name": "B", "email": "b@x", "role": "free-owner"},
            {"name": "C", "email": "c@x", "role": "owner"}
        ]}))
        .unwrap();
        assert_eq!(l.team_members[0].id.as_deref(), Some("12345"));
        assert_eq!(l.team_members[1].id.as_deref(), Some("user_PDS"));
        assert!(l.team_members[2].id.is_none());
    }
}
