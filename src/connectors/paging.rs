//! Cursor pagination shared by the providers that page by item id: OpenAI (`after`, up to 100
//! a page) and Anthropic (`after_id`, up to 1000). Guards against a cursor that repeats or never
//! ends, and a page that claims more but is empty. Report endpoints that page by opaque token
//! (`page` / `next_page`) share `page_tokens`.

use std::collections::HashSet;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::http::{Http, SourceError};
use super::wire;

/// How a provider names its cursor parameter and how large a page may be.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub after: &'static str,
    pub max_limit: u32,
}

pub const OPENAI: Style = Style {
    after: "after",
    max_limit: 100,
};
pub const ANTHROPIC: Style = Style {
    after: "after_id",
    max_limit: 1000,
};

#[derive(Deserialize)]
struct ListPage {
    #[serde(default)]
    data: Vec<Value>,
    #[serde(default, deserialize_with = "wire::flag")]
    has_more: Option<bool>,
    #[serde(default)]
    last_id: Option<String>,
    /// Groups and roles lists use `next` instead of `last_id`.
    #[serde(default)]
    next: Option<String>,
}

/// Every item of a classic `limit`/`after` list, with guards against a cursor that repeats or
/// never ends and a page that claims more but is empty.
pub async fn list_all<T: DeserializeOwned>(
    http: &Http,
    style: Style,
    path: &str,
    params: &[(&str, String)],
    page_size: u32,
) -> Result<Vec<T>, SourceError> {
    list_each(http, style, path, params, page_size, |_| {}).await
}

/// `list_all`, calling `seen` on each item as its page arrives (to start dependent work early).
pub async fn list_each<T: DeserializeOwned>(
    http: &Http,
    style: Style,
    path: &str,
    params: &[(&str, String)],
    page_size: u32,
    mut seen_item: impl FnMut(&T),
) -> Result<Vec<T>, SourceError> {
    let mut out = Vec::new();
    each(http, style, path, params, page_size, |item: T| {
        seen_item(&item);
        out.push(item);
    })
    .await?;
    Ok(out)
}

/// Each item of a classic list handed to `take` as its page arrives, none kept here (a long
/// list is reduced as it is read); the guards of [`list_all`]. On an error, `take` has seen
/// part of the list: its caller drops what it made of it.
pub async fn each<T: DeserializeOwned>(
    http: &Http,
    style: Style,
    path: &str,
    params: &[(&str, String)],
    page_size: u32,
    mut take: impl FnMut(T),
) -> Result<(), SourceError> {
    let mut after: Option<String> = None;
    let mut seen = HashSet::new();
    let mut pages = 0u32;
    let pagination = |detail: String, pages| SourceError::Pagination {
        src: http.source.clone(),
        path: crate::connectors::http::shown(path),
        detail,
        pages,
    };
    loop {
        if pages >= http.limits.max_pages {
            return Err(pagination("never reached its end".into(), pages));
        }
        let mut q: Vec<(&str, String)> = params.to_vec();
        q.push(("limit", page_size.clamp(1, style.max_limit).to_string()));
        if let Some(a) = &after {
            q.push((style.after, a.clone()));
        }
        let body = if after.is_some() {
            http.get_next_page(path, &q).await?
        } else {
            http.get(path, &q).await?
        };
        pages += 1;
        let page: ListPage =
            ListPage::deserialize(&body).map_err(|e| malformed(http, path, &e, &body))?;
        let has_more = page.has_more.unwrap_or(false);
        let last_item_id = page
            .data
            .last()
            .and_then(|v| v.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let empty = page.data.is_empty();
        for item in page.data {
            let parsed = T::deserialize(&item).map_err(|e| malformed(http, path, &e, &item))?;
            take(parsed);
        }
        if !has_more {
            return Ok(());
        }
        if empty {
            return Err(pagination(
                "claimed more items (has_more=true) on an empty page".into(),
                pages,
            ));
        }
        let next = page
            .next
            .or(page.last_id)
            .or(last_item_id)
            .ok_or_else(|| pagination("claimed more items but gave no cursor".into(), pages))?;
        if !seen.insert(next.clone()) {
            return Err(pagination(format!("repeated the cursor '{next}'"), pages));
        }
        after = Some(next);
    }
}

pub(crate) fn malformed(
    http: &Http,
    path: &str,
    e: &serde_json::Error,
    body: &Value,
) -> SourceError {
    SourceError::Malformed {
        src: http.source.clone(),
        method: "GET".into(),
        path: crate::connectors::http::shown(path),
        detail: http.scrub(&format!("unexpected shape ({e})")),
        excerpt: http.excerpt(body),
    }
}

/// Report-style pagination (OpenAI costs and usage, Anthropic usage reports): call `each` on
/// every page, sending `page=<next_page>` while `has_more`, with the same guards as the id
/// cursors: a page token that repeats, or no end within `max_pages`, is an error.
pub async fn page_tokens(
    http: &Http,
    path: &str,
    first: Vec<(&str, String)>,
    mut each: impl FnMut(&Value),
) -> Result<(), SourceError> {
    let mut page: Option<String> = None;
    let mut seen = std::collections::HashSet::new();
    for pages in 0.. {
        if pages >= http.limits.max_pages {
            return Err(SourceError::Pagination {
                src: http.source.clone(),
                path: crate::connectors::http::shown(path),
                detail: "never reached its end".into(),
                pages,
            });
        }
        let mut q = first.clone();
        if let Some(p) = &page {
            q.push(("page", p.clone()));
        }
        let body = if page.is_some() {
            http.get_next_page(path, &q).await?
        } else {
            http.get(path, &q).await?
        };
        each(&body);
        let more = body
            .get("has_more")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let next = body
            .get("next_page")
            .and_then(Value::as_str)
            .map(str::to_string);
        match (more, next) {
            (true, Some(n)) => {
                if !seen.insert(n.clone()) {
                    return Err(SourceError::Pagination {
                        src: http.source.clone(),
                        path: crate::connectors::http::shown(path),
                        detail: format!("repeated the page token '{n}'"),
                        pages: pages + 1,
                    });
                }
                page = Some(n);
            }
            _ => return Ok(()),
        }
    }
    Ok(())
}
