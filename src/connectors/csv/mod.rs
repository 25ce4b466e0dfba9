//! A directory read from an HR export (CSV) for directories that cannot be read over SCIM.
//! Columns, matched case-insensitively: `email` (required), `active`, `manager`, `department`,
//! `termination_date` (YYYY-MM-DD; on or before today means inactive, a later date is a leave date), `name`, `employee_id`,
//! `employee_type` (`Employee`, `Contractor`...).
//! Other columns are ignored. A bad row is an error naming its line.

use std::path::Path;

use chrono::NaiveDate;

use crate::model::{Person, SourceData, normalize_email};

#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("source '{src}': cannot read {path}: {detail}. Check `path` in the config")]
    Read {
        src: String,
        path: String,
        detail: String,
    },
    #[error(
        "source '{src}': {path} has no `email` column; the header must name one (columns: email, active, manager, department, termination_date, name, employee_id, employee_type)"
    )]
    NoEmail { src: String, path: String },
    #[error("source '{src}': {path} line {line}: {detail}")]
    Row {
        src: String,
        path: String,
        line: u64,
        detail: String,
    },
}

fn parse_active(v: &str) -> Option<bool> {
    match v.trim().to_lowercase().as_str() {
        "" | "true" | "yes" | "y" | "1" | "active" => Some(true),
        "false" | "no" | "n" | "0" | "inactive" | "terminated" | "disabled" => Some(false),
        _ => None,
    }
}

/// Read the export at `path` as people of source `src`, judged on `today`.
pub fn load(src: &str, path: &Path, today: NaiveDate) -> Result<SourceData, CsvError> {
    let shown = path.display().to_string();
    let read = |detail: String| CsvError::Read {
        src: src.to_string(),
        path: shown.clone(),
        detail,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| read(e.to_string()))?;
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| read(e.to_string()))?
        .iter()
        .map(|h| {
            h.trim_start_matches('\u{feff}')
                .to_lowercase()
                .replace([' ', '-'], "_")
        })
        .collect();
    let col = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let email_col = col(&["email", "mail", "work_email", "email_address"]).ok_or_else(|| {
        CsvError::NoEmail {
            src: src.to_string(),
            path: shown.clone(),
        }
    })?;
    let active_col = col(&["active", "status"]);
    let manager_col = col(&["manager", "manager_email"]);
    let dept_col = col(&["department", "dept"]);
    let type_col = col(&["employee_type", "employee type", "worker type", "type"]);
    let title_col = col(&["title", "job_title"]);
    let term_col = col(&["termination_date", "terminated_on", "end_date"]);
    let name_col = col(&["name", "display_name", "full_name"]);
    let id_col = col(&["employee_id", "id", "employee_number"]);
    let mut people = Vec::new();
    for row in rdr.records() {
        let row = row.map_err(|e| read(e.to_string()))?;
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        let bad = |detail: String| CsvError::Row {
            src: src.to_string(),
            path: shown.clone(),
            line,
            detail,
        };
        let get = |c: Option<usize>| {
            c.and_then(|i| row.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let Some(email) = get(Some(email_col)) else {
            if row.iter().all(|v| v.trim().is_empty()) {
                continue;
            }
            return Err(bad("no email".into()));
        };
        if !email.contains('@') {
            return Err(bad(format!("'{email}' is not an email address")));
        }
        let mut active = match get(active_col) {
            Some(v) => parse_active(v).ok_or_else(|| {
                bad(format!(
                    "active = '{v}' is not true/false (or yes/no, active/inactive)"
                ))
            })?,
            None => true,
        };
        let mut leave_at = None;
        if let Some(d) = get(term_col) {
            let date = NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| bad(format!("termination_date = '{d}' is not a YYYY-MM-DD date")))?;
            if date <= today {
                active = false;
            }
            leave_at = date.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp());
        }
        people.push(Person {
            source: src.to_string(),
            id: get(id_col)
                .map(str::to_string)
                .unwrap_or_else(|| normalize_email(email)),
            user_name: email.to_string(),
            emails: vec![email.to_string()],
            display_name: get(name_col).map(str::to_string),
            active,
            absent: false,
            external_id: get(id_col).map(str::to_string),
            department: get(dept_col).map(str::to_string),
            manager_id: get(manager_col).map(str::to_string),
            title: get(title_col).map(str::to_string),
            groups: Vec::new(),
            groups_known: true,
            employee_type: get(type_col).map(str::to_string),
            signals: crate::model::Signals {
                leave_at,
                ..Default::default()
            },
        });
    }
    Ok(SourceData {
        people,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn reads_columns_in_any_order_and_terminations() {
        let f = write(
            "\u{feff}Department,EMAIL,Active,Manager,Termination Date,Extra,Employee_Type\n\
             Eng,alice@example.com,yes,boss@example.com,,x,Contractor\n\
             Eng,bob@example.com,true,,2026-11-22,\n\
             Sales,carol@example.com,no,,,\n\
             Ops,dave@example.com,,,2027-01-31,\n\n",
        );
        let p = load("hr", f.path(), today()).unwrap().people;
        let state: Vec<(&str, bool)> = p.iter().map(|p| (p.user_name.as_str(), p.active)).collect();
        assert_eq!(
            state,
            vec![
                ("alice@example.com", true),
                ("bob@example.com", false),
                ("carol@example.com", false),
                ("dave@example.com", true)
            ]
        );
        assert_eq!(p[0].manager_id.as_deref(), Some("boss@example.com"));
        assert_eq!(p[0].department.as_deref(), Some("Eng"));
        assert_eq!(p[0].employee_type.as_deref(), Some("Contractor"));
        assert_eq!(p[1].employee_type, None);
        assert_eq!(p[0].id, "alice@example.com");
    }

    #[test]
    fn bad_rows_name_their_line() {
        let f = write("email,active\nalice@example.com,maybe\n");
        let e = load("hr", f.path(), today()).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("maybe"), "{e}");
        let f = write("email,termination_date\nalice@example.com,22/11/2026\n");
        assert!(
            load("hr", f.path(), today())
                .unwrap_err()
                .to_string()
                .contains("YYYY-MM-DD")
        );
        let f = write("name\nAlice\n");
        assert!(
            load("hr", f.path(), today())
                .unwrap_err()
                .to_string()
                .contains("no `email` column")
        );
        let e = load("hr", Path::new("/nonexistent/hr.csv"), today())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot read /nonexistent/hr.csv") && e.contains("path"),
            "{e}"
        );
    }
}
