//! Every provider request path is built here, from typed segments: literal text written in
//! recert's own source (`&'static str`) and ids that came from a provider or a person, each
//! percent-encoded so it is exactly one segment on the wire. An id can never add a `/`, never
//! be `.` or `..` (which a URL parser would resolve, moving the call to another object), and
//! never carry a control or format character. The path a reviewer confirms is therefore the
//! path the server receives.

use std::fmt;

/// An id that cannot be sent as a path segment, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("id {shown} cannot be sent in a request path: {why}")]
pub struct UnsafeId {
    /// The id made safe to print (control characters visible).
    pub shown: String,
    pub why: &'static str,
}

/// A request path, relative to a source's base URL, always starting with `/`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ApiPath(String);

impl ApiPath {
    /// A path of literal segments (`"organization/users"`): recert's own text, never an id.
    pub fn new(lit: &'static str) -> ApiPath {
        let mut p = ApiPath(String::with_capacity(64));
        p.push_lit(lit);
        p
    }

    /// Append literal segments.
    pub fn lit(mut self, lit: &'static str) -> ApiPath {
        self.push_lit(lit);
        self
    }

    /// Append one id as exactly one segment.
    pub fn id(mut self, id: &str) -> Result<ApiPath, UnsafeId> {
        let seg = segment(id)?;
        self.0.push('/');
        self.0.push_str(&seg);
        Ok(self)
    }

    fn push_lit(&mut self, lit: &'static str) {
        for part in lit.split('/').filter(|s| !s.is_empty()) {
            debug_assert!(part != "." && part != "..", "literal dot segment in {lit}");
            self.0.push('/');
            self.0.push_str(part);
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ApiPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ApiPath> for String {
    fn from(p: ApiPath) -> String {
        p.0
    }
}

/// Is `c` a character no id may hold: a control (Cc), a format character (Cf), or a line or
/// paragraph separator.
pub fn forbidden_in_id(c: char) -> bool {
    crate::model::text::is_unsafe(c)
}

/// `id` percent-encoded as one path segment: every byte but the unreserved characters of
/// RFC 3986 (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`. Refuses the empty id, `.`, `..` and ids
/// with control or format characters.
pub fn segment(id: &str) -> Result<String, UnsafeId> {
    let refuse = |why| {
        Err(UnsafeId {
            shown: format!("{:?}", crate::model::text::sanitize(id)),
            why,
        })
    };
    if id.is_empty() {
        return refuse("it is empty");
    }
    if id == "." || id == ".." {
        return refuse("it is a dot segment, which would name another object");
    }
    if id.chars().any(forbidden_in_id) {
        return refuse("it holds control or format characters");
    }
    Ok(crate::model::text::percent_encode(id))
}

/// The id a segment encodes (the inverse of [`segment`]), for tests and for reading logs.
pub fn decode_segment(seg: &str) -> Option<String> {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = seg.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_traversal_id_stays_one_segment() {
        let p = ApiPath::new("organization/projects")
            .id("proj_x")
            .unwrap()
            .lit("api_keys")
            .id("../../../users/user-ceo")
            .unwrap();
        assert_eq!(
            p.as_str(),
            "/organization/projects/proj_x/api_keys/..%2F..%2F..%2Fusers%2Fuser-ceo"
        );
        // What a URL parser makes of it: nothing is resolved away.
        let url = url::Url::parse(&format!("http://h/v1{p}")).unwrap();
        assert_eq!(url.path(), format!("/v1{p}"));
    }

    #[test]
    fn dots_empty_and_controls_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "a\u{1b}]52;c;x\u{7}",
            "a\nb",
            "x\u{202e}y",
            "a\u{2028}",
        ] {
            assert!(segment(bad).is_err(), "{bad:?}");
        }
        assert_eq!(segment("user-abc_1.2~").unwrap(), "user-abc_1.2~");
        assert_eq!(segment("a b?c#d%e").unwrap(), "a%20b%3Fc%23d%25e");
        assert_eq!(segment("%2e%2e").unwrap(), "%252e%252e");
    }

    proptest! {
        /// Whatever the id, the URL the client sends has exactly the segments built, each
        /// decoding back to its id: no id can move the call to another path.
        #[test]
        fn any_id_is_exactly_one_segment_on_the_wire(a in any::<String>(), b in "[./%a-z0-9\\\\]{0,12}") {
            for id in [a.as_str(), b.as_str()] {
                let Ok(p) = ApiPath::new("organization/projects").id("p1").and_then(|p| p.lit("api_keys").id(id)) else {
                    continue;
                };
                let url = url::Url::parse(&format!("http://h/v1{p}")).unwrap();
                let segs: Vec<&str> = url.path_segments().unwrap().collect();
                prop_assert_eq!(segs.len(), 6, "{}", url.path());
                prop_assert_eq!(&segs[..5], &["v1", "organization", "projects", "p1", "api_keys"]);
                let back = decode_segment(segs[5]);
                prop_assert_eq!(back.as_deref(), Some(id));
            }
        }
    }
}
