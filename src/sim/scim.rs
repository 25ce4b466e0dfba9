//! A SCIM 2.0 directory (RFC 7643/7644): `/Users`, `/Groups`, index pagination, filters,
//! PATCH (RFC, Okta and Entra dialects), DELETE, and the SCIM error shape.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::world::{ScimGroup, ScimUser};
use super::{Params, Shared, bearer_ok, iso};

const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub(crate) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const MAX_COUNT: usize = 1000;

pub(super) fn router() -> Router<Shared> {
    Router::new()
        .route("/Users", get(list_users))
        .route(
            "/Users/{id}",
            get(get_user).patch(patch_user).delete(delete_user),
        )
        .route("/Groups", get(list_groups))
        .route("/Groups/{id}", get(get_group))
        .route("/ServiceProviderConfig", get(service_provider_config))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Resource endpoint not found", None) })
}

fn scim_json(status: StatusCode, v: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/scim+json")],
        v.to_string(),
    )
        .into_response()
}

/// `{"schemas":[Error],"status":"404","scimType"?,"detail"}`: status is a string.
pub(super) fn error(status: StatusCode, detail: &str, scim_type: Option<&str>) -> Response {
    let mut v =
        json!({"schemas": [ERROR], "status": status.as_u16().to_string(), "detail": detail});
    if let Some(t) = scim_type {
        v["scimType"] = json!(t);
    }
    scim_json(status, v)
}

type Reply = Result<Response, Response>;

fn authorize(st: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    if bearer_ok(headers, &st.key) {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNAUTHORIZED,
            "Authentication failure: bearer token missing or invalid",
            None,
        ))
    }
}

fn user_json(base: &str, u: &ScimUser, groups: &[&ScimGroup]) -> Value {
    let mut ent = json!({"employeeNumber": u.employee_number, "department": u.department});
    if let Some(m) = &u.manager_id {
        ent["manager"] = json!({"value": m, "$ref": format!("{base}/Users/{m}")});
    }
    let mut user = json!({
        "schemas": [CORE_USER, ENTERPRISE],
        "id": u.id,
        "externalId": u.external_id,
        "userName": u.user_name,
        "name": {"givenName": u.given_name, "familyName": u.family_name,
                 "formatted": format!("{} {}", u.given_name, u.family_name)},
        "displayName": format!("{} {}", u.given_name, u.family_name),
        "active": u.active,
        "emails": std::iter::once(json!({"value": u.user_name, "type": "work", "primary": true}))
            .chain(u.extra_emails.iter().map(|e| json!({"value": e, "type": "other"})))
            .collect::<Vec<_>>(),
        "groups": groups.iter().map(|g| json!({"value": g.id, "display": g.display_name, "type": "direct"})).collect::<Vec<_>>(),
        ENTERPRISE: ent,
        "meta": {"resourceType": "User", "created": iso(u.created), "lastModified": iso(u.last_modified),
                 "location": format!("{base}/Users/{}", u.id), "version": format!("W/\"{}\"", u.last_modified)},
    });
    if let Some(t) = &u.title {
        user["title"] = json!(t);
    }
    // SCIM core `userType`: "the relationship between the organization and the user".
    user["userType"] = json!("Employee");
    user
}

fn group_json(base: &str, g: &ScimGroup) -> Value {
    json!({
        "schemas": [CORE_GROUP],
        "id": g.id,
        "displayName": g.display_name,
        "members": g.members.iter().map(|m| json!({"value": m, "$ref": format!("{base}/Users/{m}"), "type": "User"})).collect::<Vec<_>>(),
        "meta": {"resourceType": "Group", "location": format!("{base}/Groups/{}", g.id)},
    })
}

fn base_of(uri: &Uri) -> String {
    // Relative locations are valid; clients must not need the host.
    let path = uri.path();
    path[..path
        .find("/scim/v2")
        .map(|i| i + "/scim/v2".len())
        .unwrap_or(0)]
        .to_string()
}

/// Index pagination: 1-based `startIndex` (values below 1 mean 1), `count` capped at 1000,
/// negative treated as 0.
/// Only the requested page is rendered.
fn list<T>(params: &Params, matched: Vec<T>, render: impl Fn(T) -> Value) -> Reply {
    list_page(params, matched, |page| {
        page.into_iter().map(render).collect()
    })
}

/// [`list`], the page rendered whole by `render` (which may look up what only its items need).
fn list_page<T>(
    params: &Params,
    matched: Vec<T>,
    render: impl FnOnce(Vec<T>) -> Vec<Value>,
) -> Reply {
    let start = params
        .get("startIndex")
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(1)
        .max(1) as usize;
    let count = match params.get("count") {
        None => 100,
        Some(c) => match c.parse::<i64>() {
            Ok(n) => n.clamp(0, MAX_COUNT as i64) as usize,
            Err(_) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    &format!("count '{c}' is not an integer"),
                    Some("invalidValue"),
                ));
            }
        },
    };
    let total = matched.len();
    let resources: Vec<Value> = render(matched.into_iter().skip(start - 1).take(count).collect());
    Ok(scim_json(
        StatusCode::OK,
        json!({"schemas": [LIST], "totalResults": total, "startIndex": start,
               "itemsPerPage": resources.len(), "Resources": resources}),
    ))
}

async fn list_users(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let params = Params::from_uri(&uri);
    let filter = match params.get("filter") {
        Some(f) => Some(
            Filter::parse(f)
                .map_err(|e| error(StatusCode::BAD_REQUEST, &e, Some("invalidFilter")))?,
        ),
        None => None,
    };
    let base = base_of(&uri);
    let w = st.world.read().unwrap();
    let matched: Vec<&ScimUser> = w
        .directory
        .users
        .values()
        .filter(|u| {
            filter
                .as_ref()
                .is_none_or(|f| f.matches(&|a| user_attr(u, a)))
        })
        .collect();
    list_page(&params, matched, |page| {
        // The groups of this page's users only (a directory of 200,000 has 400,000 memberships:
        // indexing them all for every page cost more than the page).
        let ids: std::collections::HashSet<&str> = page.iter().map(|u| u.id.as_str()).collect();
        let mut memberships: std::collections::HashMap<&str, Vec<&ScimGroup>> = Default::default();
        for g in w.directory.groups.values() {
            for m in g.members.iter().filter(|m| ids.contains(m.as_str())) {
                memberships.entry(m.as_str()).or_default().push(g);
            }
        }
        page.into_iter()
            .map(|u| {
                user_json(
                    &base,
                    u,
                    memberships
                        .get(u.id.as_str())
                        .map(Vec::as_slice)
                        .unwrap_or(&[]),
                )
            })
            .collect()
    })
}

fn user_groups<'a>(w: &'a super::world::World, id: &str) -> Vec<&'a ScimGroup> {
    w.directory
        .groups
        .values()
        .filter(|g| g.members.iter().any(|m| m == id))
        .collect()
}

async fn get_user(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    let u = w
        .directory
        .users
        .get(&id)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, &format!("User {id} not found"), None))?;
    Ok(scim_json(
        StatusCode::OK,
        user_json(&base_of(&uri), u, &user_groups(&w, &id)),
    ))
}

/// Accepts `{"op":"replace","path":"active","value":false}`, Okta's path-less
/// `{"op":"replace","value":{"active":false}}` and Entra's `"Replace"` with `"False"`.
async fn patch_user(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
    body: String,
) -> Reply {
    authorize(&st, &headers)?;
    let v: Value = serde_json::from_str(&body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("Request body is not JSON: {e}"),
            Some("invalidSyntax"),
        )
    })?;
    if !v["schemas"]
        .as_array()
        .is_some_and(|s| s.iter().any(|x| x == PATCH_OP))
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "schemas must contain the PatchOp URN",
            Some("invalidSyntax"),
        ));
    }
    let ops = v["Operations"].as_array().ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "Operations is required",
            Some("invalidSyntax"),
        )
    })?;
    let mut w = st.world.write().unwrap();
    let now = w.now;
    let u = w
        .directory
        .users
        .get_mut(&id)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, &format!("User {id} not found"), None))?;
    for op in ops {
        let kind = op["op"].as_str().unwrap_or("").to_lowercase();
        if kind != "replace" && kind != "add" {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!("unsupported op '{kind}'"),
                Some("invalidValue"),
            ));
        }
        let (path, value) = match op["path"].as_str() {
            Some(p) => (p.to_string(), op["value"].clone()),
            None => match op["value"].as_object().and_then(|o| o.get("active")) {
                Some(a) => ("active".to_string(), a.clone()),
                None => {
                    return Err(error(
                        StatusCode::BAD_REQUEST,
                        "only 'active' can be changed here",
                        Some("invalidPath"),
                    ));
                }
            },
        };
        if !path.eq_ignore_ascii_case("active") {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!("path '{path}' is not supported"),
                Some("invalidPath"),
            ));
        }
        u.active = match &value {
            Value::Bool(b) => *b,
            Value::String(s) if s.eq_ignore_ascii_case("true") => true,
            Value::String(s) if s.eq_ignore_ascii_case("false") => false,
            _ => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "active must be a boolean",
                    Some("invalidValue"),
                ));
            }
        };
        u.last_modified = u.last_modified.max(now);
    }
    let u = u.clone();
    Ok(scim_json(
        StatusCode::OK,
        user_json(&base_of(&uri), &u, &user_groups(&w, &id)),
    ))
}

async fn delete_user(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    authorize(&st, &headers)?;
    let mut w = st.world.write().unwrap();
    if w.directory.users.remove(&id).is_none() {
        return Err(error(
            StatusCode::NOT_FOUND,
            &format!("User {id} not found"),
            None,
        ));
    }
    // Like scim2-server, group memberships are left dangling.
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_groups(State(st): State<Shared>, headers: HeaderMap, uri: Uri) -> Reply {
    authorize(&st, &headers)?;
    let params = Params::from_uri(&uri);
    let filter = match params.get("filter") {
        Some(f) => Some(
            Filter::parse(f)
                .map_err(|e| error(StatusCode::BAD_REQUEST, &e, Some("invalidFilter")))?,
        ),
        None => None,
    };
    let base = base_of(&uri);
    let w = st.world.read().unwrap();
    let matched: Vec<&ScimGroup> = w
        .directory
        .groups
        .values()
        .filter(|g| {
            filter.as_ref().is_none_or(|f| {
                f.matches(&|a| match a {
                    "id" => vec![Val::Exact(g.id.clone())],
                    "displayname" => vec![Val::Text(g.display_name.clone())],
                    _ => vec![],
                })
            })
        })
        .collect();
    list(&params, matched, |g| group_json(&base, g))
}

async fn get_group(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> Reply {
    authorize(&st, &headers)?;
    let w = st.world.read().unwrap();
    let g = w.directory.groups.get(&id).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            &format!("Group {id} not found"),
            None,
        )
    })?;
    Ok(scim_json(StatusCode::OK, group_json(&base_of(&uri), g)))
}

async fn service_provider_config(State(st): State<Shared>, headers: HeaderMap) -> Reply {
    authorize(&st, &headers)?;
    Ok(scim_json(
        StatusCode::OK,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": MAX_COUNT},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": false},
            "authenticationSchemes": [{"type": "oauthbearertoken", "name": "OAuth Bearer Token",
                                        "description": "Authentication with a bearer token", "primary": true}],
        }),
    ))
}

// --- Filters (RFC 7644 §3.4.2.2) ---------------------------------------------------------------

/// An attribute value as a filter sees it: case-insensitive text, case-exact text, or boolean.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Text(String),
    Exact(String),
    Bool(bool),
}

fn user_attr(u: &ScimUser, attr: &str) -> Vec<Val> {
    let attr = attr.to_lowercase();
    let attr = attr
        .strip_prefix(&format!("{}:", ENTERPRISE.to_lowercase()))
        .unwrap_or(&attr);
    match attr {
        "id" => vec![Val::Exact(u.id.clone())],
        "username" => vec![Val::Text(u.user_name.clone())],
        "emails" | "emails.value" => std::iter::once(&u.user_name)
            .chain(u.extra_emails.iter())
            .map(|e| Val::Text(e.clone()))
            .collect(),
        "externalid" => vec![Val::Exact(u.external_id.clone())],
        "active" => vec![Val::Bool(u.active)],
        "displayname" | "name.formatted" => {
            vec![Val::Text(format!("{} {}", u.given_name, u.family_name))]
        }
        "name.givenname" => vec![Val::Text(u.given_name.clone())],
        "name.familyname" => vec![Val::Text(u.family_name.clone())],
        "department" => vec![Val::Text(u.department.clone())],
        "employeenumber" => vec![Val::Exact(u.employee_number.clone())],
        "manager.value" | "manager" => u.manager_id.iter().map(|m| Val::Exact(m.clone())).collect(),
        "meta.lastmodified" => vec![Val::Exact(iso(u.last_modified))],
        "meta.created" => vec![Val::Exact(iso(u.created))],
        _ => vec![],
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    Cmp {
        attr: String,
        op: String,
        value: Option<Lit>,
    },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Str(String),
    Bool(bool),
    Null,
}

impl Filter {
    pub(crate) fn parse(src: &str) -> Result<Filter, String> {
        let tokens = tokenize(src)?;
        let mut p = Parser { t: tokens, i: 0 };
        let f = p.or()?;
        if p.i != p.t.len() {
            return Err(format!("unexpected '{}' in filter", p.t[p.i]));
        }
        Ok(f)
    }

    pub(crate) fn matches(&self, get: &dyn Fn(&str) -> Vec<Val>) -> bool {
        match self {
            Filter::And(a, b) => a.matches(get) && b.matches(get),
            Filter::Or(a, b) => a.matches(get) || b.matches(get),
            Filter::Not(a) => !a.matches(get),
            Filter::Cmp { attr, op, value } => {
                let vals = get(attr);
                if op == "pr" {
                    return !vals.is_empty();
                }
                let ne = op == "ne";
                let hit = vals.iter().any(|v| cmp(v, op, value.as_ref()));
                if ne {
                    !vals.iter().any(|v| cmp(v, "eq", value.as_ref()))
                } else {
                    hit
                }
            }
        }
    }
}

fn cmp(v: &Val, op: &str, lit: Option<&Lit>) -> bool {
    match (v, lit) {
        (Val::Bool(b), Some(Lit::Bool(l))) => op == "eq" && b == l,
        (Val::Text(s), Some(Lit::Str(l))) => str_cmp(&s.to_lowercase(), op, &l.to_lowercase()),
        (Val::Exact(s), Some(Lit::Str(l))) => str_cmp(s, op, l),
        _ => false,
    }
}

fn str_cmp(s: &str, op: &str, l: &str) -> bool {
    match op {
        "eq" => s == l,
        "co" => s.contains(l),
        "sw" => s.starts_with(l),
        "ew" => s.ends_with(l),
        "gt" => s > l,
        "ge" => s >= l,
        "lt" => s < l,
        "le" => s <= l,
        _ => false,
    }
}

fn tokenize(src: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = src.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' || c == ')' {
            out.push(c.to_string());
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut s = String::from("\"");
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            s.push(n)
                        }
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => s.push(c),
                }
            }
            if !closed {
                return Err("unterminated string in filter".into());
            }
            out.push(s);
        } else {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '(' || c == ')' {
                    break;
                }
                s.push(c);
                chars.next();
            }
            out.push(s);
        }
    }
    Ok(out)
}

struct Parser {
    t: Vec<String>,
    i: usize,
}

impl Parser {
    fn peek_kw(&self, kw: &str) -> bool {
        self.t
            .get(self.i)
            .is_some_and(|t| t.eq_ignore_ascii_case(kw))
    }
    fn or(&mut self) -> Result<Filter, String> {
        let mut f = self.and()?;
        while self.peek_kw("or") {
            self.i += 1;
            f = Filter::Or(Box::new(f), Box::new(self.and()?));
        }
        Ok(f)
    }
    fn and(&mut self) -> Result<Filter, String> {
        let mut f = self.unary()?;
        while self.peek_kw("and") {
            self.i += 1;
            f = Filter::And(Box::new(f), Box::new(self.unary()?));
        }
        Ok(f)
    }
    fn unary(&mut self) -> Result<Filter, String> {
        if self.peek_kw("not") {
            self.i += 1;
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        if self.t.get(self.i).map(String::as_str) == Some("(") {
            self.i += 1;
            let f = self.or()?;
            if self.t.get(self.i).map(String::as_str) != Some(")") {
                return Err("missing ')' in filter".into());
            }
            self.i += 1;
            return Ok(f);
        }
        let attr = self.t.get(self.i).cloned().ok_or("filter ends too early")?;
        if attr.starts_with('"') {
            return Err(format!("expected an attribute, found {attr}\""));
        }
        self.i += 1;
        let op = self
            .t
            .get(self.i)
            .ok_or("filter has no operator")?
            .to_lowercase();
        self.i += 1;
        if op == "pr" {
            return Ok(Filter::Cmp {
                attr,
                op,
                value: None,
            });
        }
        if !["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"].contains(&op.as_str()) {
            return Err(format!("unknown operator '{op}'"));
        }
        let raw = self.t.get(self.i).ok_or("filter has no value")?.clone();
        self.i += 1;
        let value = if let Some(s) = raw.strip_prefix('"') {
            Lit::Str(s.to_string())
        } else if raw.eq_ignore_ascii_case("true") {
            Lit::Bool(true)
        } else if raw.eq_ignore_ascii_case("false") {
            Lit::Bool(false)
        } else if raw.eq_ignore_ascii_case("null") {
            Lit::Null
        } else {
            return Err(format!("value '{raw}' must be quoted"));
        };
        Ok(Filter::Cmp {
            attr,
            op,
            value: Some(value),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> ScimUser {
        ScimUser {
            id: "a1".into(),
            user_name: "Alice@Example.com".into(),
            external_id: "emp-1".into(),
            given_name: "Alice".into(),
            family_name: "Smith".into(),
            active: false,
            department: "Eng".into(),
            manager_id: None,
            title: None,
            employee_number: "1".into(),
            created: 0,
            last_modified: 0,
            extra_emails: vec![],
        }
    }

    fn m(f: &str) -> bool {
        let u = alice();
        Filter::parse(f).unwrap().matches(&|a| user_attr(&u, a))
    }

    #[test]
    fn filters_match_like_rfc_7644() {
        assert!(m(r#"userName eq "alice@example.com""#));
        assert!(m(r#"emails.value eq "ALICE@example.com""#));
        assert!(m("active eq false"));
        assert!(!m("active eq true"));
        assert!(!m(r#"externalId eq "EMP-1""#));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "eng""#
        ));
        assert!(m(
            r#"(active eq true or userName sw "alice") and not (externalId eq "emp-2") and emails pr"#
        ));
    }

    #[test]
    fn bad_filters_are_errors() {
        for f in [
            "userName",
            r#"userName xx "a""#,
            r#"userName eq "a"#,
            "userName eq a",
            "(active eq true",
        ] {
            assert!(Filter::parse(f).is_err(), "{f}");
        }
    }
}
