//! The simulated directory: SCIM users and groups, the people every provider draws from.

use super::*;

#[derive(Clone, Debug)]
pub struct ScimUser {
    pub id: String,
    pub user_name: String,
    pub external_id: String,
    pub given_name: String,
    pub family_name: String,
    pub active: bool,
    pub department: String,
    /// Job title (SCIM core `title`).
    pub title: Option<String>,
    pub manager_id: Option<String>,
    pub employee_number: String,
    pub created: Ts,
    pub last_modified: Ts,
    /// Further emails (served as `type: other`); one planted person shares another's address.
    pub extra_emails: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct ScimGroup {
    pub id: String,
    pub display_name: String,
    pub members: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Directory {
    pub users: BTreeMap<String, ScimUser>,
    pub groups: BTreeMap<String, ScimGroup>,
}
