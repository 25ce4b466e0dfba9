//! Text from providers is untrusted: before it reaches a terminal every control character
//! (C0, DEL, C1, and with them every escape sequence's introducer) becomes a visible placeholder.

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

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
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
    fn clean_text_is_borrowed() {
        assert!(matches!(
            sanitize("alice@example.com"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
