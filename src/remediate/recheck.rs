//! Proving that an earlier call took effect, with one read and never a resend: a call the
//! journal records as done is planned as "already done"; `revoke --recheck` asks the provider
//! whether the object is really gone before saying so.

use super::Effect;
use crate::connectors::http::Http;

/// What a re-check read found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proof {
    /// The provider no longer has it (404), or holds the key inactive: the earlier call took.
    Gone(String),
    /// The provider still has it: the earlier call did not take, or it came back.
    Present(String),
    /// No read proves this call, or the read failed: nothing is concluded.
    Unknown(String),
}

/// The segments of a planned path.
fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// The read that proves `e` took: a GET of the one object a DELETE removed (every such path
/// the reference documents a GET for), or of the Anthropic key a status POST set. `None`
/// where no read of one object proves it (role unassignments, Cursor's member removal).
pub fn read_for(e: &Effect) -> Option<String> {
    let (_, method, path, body) = e;
    let s = segments(path);
    let one_object = match (method.as_str(), s.as_slice()) {
        ("DELETE", ["organization", "users" | "invites" | "admin_api_keys", _]) => true,
        (
            "DELETE",
            [
                "organization",
                "projects",
                _,
                "users" | "service_accounts" | "api_keys",
                _,
            ],
        ) => true,
        ("DELETE", ["v1", "organizations", "users", _]) => true,
        ("DELETE", ["v1", "organizations", "workspaces", _, "members", _]) => true,
        ("POST", ["v1", "organizations", "api_keys", _]) => {
            body.as_deref().is_some_and(|b| b.contains("\"status\""))
        }
        _ => false,
    };
    one_object.then(|| path.clone())
}

/// Ask the provider whether `e` is in place.
pub async fn recheck(http: &Http, e: &Effect) -> Proof {
    let Some(path) = read_for(e) else {
        return Proof::Unknown("no read of one object proves this call".into());
    };
    match http.get(&path, &[]).await {
        Err(err) if err.is_not_found() => Proof::Gone(format!("GET {path} answered 404")),
        Err(err) => Proof::Unknown(format!("GET {path} failed: {err}")),
        Ok(v) if e.1 == "POST" => match v.get("status").and_then(|s| s.as_str()) {
            Some("active") | None => Proof::Present(format!("GET {path}: the key is still active")),
            Some(other) => Proof::Gone(format!(
                "GET {path}: the key is {}",
                crate::model::text::sanitize(other)
            )),
        },
        Ok(_) => Proof::Present(format!(
            "GET {path} answered 200: the provider still has it"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(method: &str, path: &str, body: Option<&str>) -> Effect {
        ("s".into(), method.into(), path.into(), body.map(Into::into))
    }

    #[test]
    fn only_one_object_reads_prove_a_call() {
        for (m, p, b) in [
            ("DELETE", "/organization/users/u1", None),
            ("DELETE", "/organization/projects/p/api_keys/k", None),
            ("DELETE", "/organization/projects/p/users/u", None),
            ("DELETE", "/organization/admin_api_keys/k", None),
            ("DELETE", "/v1/organizations/workspaces/w/members/u", None),
            (
                "POST",
                "/v1/organizations/api_keys/k",
                Some(r#"{"status":"inactive"}"#),
            ),
        ] {
            assert_eq!(read_for(&e(m, p, b)).as_deref(), Some(p), "{m} {p}");
        }
        for (m, p) in [
            ("DELETE", "/organization/users/u1/roles/r"),
            ("DELETE", "/organization/groups/g/users/u"),
            ("POST", "/teams/remove-member"),
        ] {
            assert_eq!(read_for(&e(m, p, None)), None, "{m} {p}");
        }
    }
}
