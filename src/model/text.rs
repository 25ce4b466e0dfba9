//! Text from providers is untrusted: before it reaches a terminal every control character
//! (C0, DEL, C1, and with them every escape sequence's introducer), every format character
//! (Unicode category Cf: bidi overrides, zero-width joiners, U+061C, ...) and the line and
//! paragraph separators (U+2028, U+2029) become visible placeholders. This is the one
//! sanitizer: every text output of recert (console, CLI tables, CSV, HTML) passes it.

/// Replace control characters with visible placeholders. `ESC ] 52 ;...` shows as `␛]52;...`,
/// a newline as `␊`, so nothing a provider sends can move the cursor, set the clipboard or
/// change colours.
pub fn sanitize(input: &str) -> std::borrow::Cow<'_, str> {
    if !input.chars().any(is_unsafe) {
        return std::borrow::Cow::Borrowed(input);
    }
    let mut out = String::with_capacity(input.len() + 8);
    for c in input.chars() {
        match c {
            // C0 controls have dedicated "control pictures" at U+2400 + code.
            '\u{0}'..='\u{1f}' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}')),
            '\u{7f}' => out.push('\u{2421}'),
            c if is_unsafe(c) => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A character that can move the cursor, reorder or hide text, or break a row: every control
/// (Cc), format (Cf), line separator (Zl) and paragraph separator (Zp) character, and the
/// zero-width space (which Unicode files as a format-like Cf neighbour).
pub fn is_unsafe(c: char) -> bool {
    use unicode_general_category::{GeneralCategory as G, get_general_category};
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    c == '\u{200b}'
        || matches!(
            get_general_category(c),
            G::Control | G::Format | G::LineSeparator | G::ParagraphSeparator
        )
}

/// One CSV cell of untrusted text, for every CSV recert writes: the text passes [`sanitize`]
/// (so no escape sequence reaches a terminal that shows the file, and no newline splits a
/// row), a cell starting with `=`, `+`, `-`, `@`, tab or CR is prefixed with `'` (a
/// spreadsheet never runs it as a formula), and a cell holding `,`, `"` or `;` is quoted.
pub fn csv_cell(s: &str) -> String {
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let clean = sanitize(s);
    let cell = if formula {
        format!("'{clean}")
    } else {
        clean.into_owned()
    };
    // `;` too: spreadsheets in many locales split on it, and an unquoted `x;=1+1` would start
    // a cell of its own with `=`.
    if cell.contains([',', '"', ';']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

/// A whole CSV file: the header line, then one line per row, each cell through [`csv_cell`].
pub fn csv<R, C>(header: &[&str], rows: impl IntoIterator<Item = R>) -> String
where
    R: IntoIterator<Item = C>,
    C: AsRef<str>,
{
    let mut out = header.join(",");
    out.push('\n');
    for row in rows {
        let mut first = true;
        for c in row {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&csv_cell(c.as_ref()));
        }
        out.push('\n');
    }
    out
}

/// Pretty JSON for output: the same data as `serde_json::to_string_pretty`, but every unsafe
/// character ([`is_unsafe`]: DEL, C1, bidi overrides, U+2028, ...) inside a string is written
/// as a `\uXXXX` escape, so a terminal showing the JSON shows them as text and a parser reads
/// back exactly what was there. (serde_json escapes C0 controls already, not the others.)
pub fn json_pretty<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        SafeJson(serde_json::ser::PrettyFormatter::new()),
    );
    value.serialize(&mut ser)?;
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// One line of JSON (JSON lines files: the audit log), escaped as [`json_pretty`] does.
pub fn json_line<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, SafeCompact);
    value.serialize(&mut ser)?;
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// Write a string fragment with every unsafe character as a `\uXXXX` escape.
fn safe_fragment<W: ?Sized + std::io::Write>(w: &mut W, fragment: &str) -> std::io::Result<()> {
    let mut start = 0;
    for (i, c) in fragment.char_indices() {
        if is_unsafe(c) {
            w.write_all(&fragment.as_bytes()[start..i])?;
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
    }
    w.write_all(&fragment.as_bytes()[start..])
}

struct SafeCompact;

impl serde_json::ser::Formatter for SafeCompact {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        safe_fragment(w, fragment)
    }
}

struct SafeJson<'a>(serde_json::ser::PrettyFormatter<'a>);

impl serde_json::ser::Formatter for SafeJson<'_> {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        safe_fragment(w, fragment)
    }
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// `n` and the noun, pluralised in English (`1 item`, `2 items`, `0 items`); a noun that ends
/// in `s`, `x`, `ch` or `sh` takes `es`.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        return format!("1 {noun}");
    }
    let es = ["s", "x", "ch", "sh"].iter().any(|e| noun.ends_with(e));
    format!("{n} {noun}{}", if es { "es" } else { "s" })
}

/// The widest a column grows for one cell: a longer cell (a hostile provider's 10,000-letter
/// name) runs on in its own row instead of pushing every other row's columns off the screen.
pub const COLUMN_CAP: usize = 96;

/// Rows of cells as aligned columns for a terminal, one line each: every cell passes
/// [`sanitize`]; each column but the last is as wide as its widest cell (in display columns,
/// up to [`COLUMN_CAP`]), right-aligned if its index is in `right`; cells are two spaces apart
/// and no line ends in spaces. Every CLI table goes through it, so a long subject never pushes
/// its row out of line with the header.
pub fn columns<R, C>(rows: impl IntoIterator<Item = R>, right: &[usize]) -> String
where
    R: IntoIterator<Item = C>,
    C: AsRef<str>,
{
    use unicode_width::UnicodeWidthStr;
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| sanitize(c.as_ref()).into_owned())
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if widths.len() <= i {
                widths.push(0);
            }
            widths[i] = widths[i].max(c.width().min(COLUMN_CAP));
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = " ".repeat(widths[i].saturating_sub(c.width()));
            let last = i + 1 == r.len();
            if right.contains(&i) {
                line.push_str(&pad);
                line.push_str(c);
            } else {
                line.push_str(c);
                if !last {
                    line.push_str(&pad);
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Every byte of `s` but the unreserved characters of RFC 3986 (`A-Z a-z 0-9 - . _ ~`) as
/// `%XX`: how a path segment travels (`connectors::path::segment` checks the id first), and
/// one of the forms the redactor learns for each secret.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Bytes as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up_on_the_widest_cell_and_cap_a_hostile_one() {
        let rows = vec![
            vec!["SUBJECT", "N", "DETAIL"],
            vec!["svc-account-with-a-long-name@example.com", "7", "a"],
            vec!["b", "12", "\u{1b}]52;c;x\u{7}"],
        ];
        use super::columns;
        let out = columns(rows, &[1]);
        let lines: Vec<&str> = out.lines().collect();
        // The header, the long row and the short row: each column starts where the header's does.
        let at = |l: &str, what: &str| l.find(what).unwrap();
        assert_eq!(at(lines[0], "DETAIL"), at(lines[1], "  a") + 2);
        assert_eq!(at(lines[0], "DETAIL"), at(lines[2], "␛"));
        assert_eq!(at(lines[1], "7") + 1, at(lines[2], "12") + 2);
        assert!(!out.contains('\u{1b}'), "{out}");
        assert!(out.lines().all(|l| l == l.trim_end()));
        // Wide characters count as two columns.
        let out = columns(vec![vec!["名前", "x"], vec!["ab", "y"]], &[]);
        let l: Vec<&str> = out.lines().collect();
        assert_eq!(l[0], "名前  x");
        assert_eq!(l[1], "ab    y");
        // One cell past the cap runs on alone; the others keep their columns.
        let long = "x".repeat(500);
        let out = columns(
            vec![vec!["a", "1"], vec![long.as_str(), "2"], vec!["b", "3"]],
            &[],
        );
        let l: Vec<&str> = out.lines().collect();
        assert_eq!(l[0].find('1'), l[2].find('3'));
        assert_eq!(l[0].find('1'), Some(super::COLUMN_CAP + 2));
    }

    #[test]
    fn csv_cells_defuse_formulas_and_terminal_sequences() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        for f in ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"] {
            assert!(csv_cell(f).starts_with('\''), "{f:?}: {}", csv_cell(f));
        }
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("x;=1+1"), "\"x;=1+1\"");
        // OSC 52 (clipboard), a title change, a newline and U+2028: none survive.
        let hostile = "x\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}]0;pwned\u{7}\ny\u{2028}z\u{202e}";
        let c = csv_cell(hostile);
        assert!(!c.chars().any(is_unsafe), "{c:?}");
        assert!(!c.contains('\n'));
        let file = csv(&["a", "b"], [["1", "=2"], ["x\ny", "z"]]);
        assert_eq!(file, "a,b\n1,'=2\nx\u{240a}y,z\n");
    }

    use super::{csv, csv_cell, is_unsafe, json_pretty, sanitize};

    #[test]
    fn json_output_escapes_what_a_terminal_would_obey_and_reads_back_exactly() {
        let v = serde_json::json!({"name": "a\u{1b}]0;t\u{7}b\u{7f}\u{202e}c\u{2028}d\u{1d173}é"});
        let text = json_pretty(&v).unwrap();
        assert!(!text.chars().any(|c| c != '\n' && is_unsafe(c)), "{text}");
        assert!(
            text.contains("\\u202e") && text.contains("\\ud834\\udd73"),
            "{text}"
        );
        assert!(text.contains('é'));
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
        let line = super::json_line(&v).unwrap();
        assert!(
            !line.contains('\n') && !line.chars().any(is_unsafe),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<serde_json::Value>(&line).unwrap(), v);
        assert_eq!(
            serde_json::to_string_pretty(&serde_json::json!([1, {"a": "b"}])).unwrap(),
            json_pretty(&serde_json::json!([1, {"a": "b"}])).unwrap()
        );
    }

    #[test]
    fn escape_sequences_become_visible() {
        let osc52 = "evil\u{1b}]52;c;ZWNobyBoaQ==\u{7}name";
        let s = sanitize(osc52);
        assert!(!s.chars().any(|c| c.is_control()), "{s:?}");
        assert_eq!(s, "evil\u{241b}]52;c;ZWNobyBoaQ==\u{2407}name");
    }

    #[test]
    fn newlines_and_c1_and_bidi_are_replaced() {
        assert_eq!(sanitize("a\nb"), "a\u{240a}b");
        assert_eq!(sanitize("a\u{9b}31m"), "a\u{fffd}31m");
        assert_eq!(sanitize("x\u{202e}y"), "x\u{fffd}y");
    }

    #[test]
    fn every_control_format_and_separator_character_is_replaced() {
        // U+061C (Arabic letter mark) and U+2028/U+2029 shifted rows in the console.
        for c in [
            '\u{61c}',
            '\u{2028}',
            '\u{2029}',
            '\u{ad}',
            '\u{feff}',
            '\u{e0041}',
            '\u{2066}',
        ] {
            let s = format!("a{c}b");
            assert_eq!(sanitize(&s), "a\u{fffd}b", "{:x}", c as u32);
        }
        // Every character of those categories, whichever Unicode table the crate carries.
        use unicode_general_category::{GeneralCategory as G, get_general_category};
        for c in (0..=0x10ffffu32).filter_map(char::from_u32) {
            let cat = get_general_category(c);
            let bad = matches!(
                cat,
                G::Control | G::Format | G::LineSeparator | G::ParagraphSeparator
            );
            if bad {
                let s = c.to_string();
                assert!(!sanitize(&s).contains(c), "{:x} {cat:?}", c as u32);
            }
        }
        assert_eq!(sanitize("Zoë Åström 山田"), "Zoë Åström 山田");
    }

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(
            sanitize("alice@example.com"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
