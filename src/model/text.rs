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

#[cfg(test)]
mod tests {
    use super::sanitize;

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
