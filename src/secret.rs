//! Secrets never reach a log, an error, a panic, the database or the screen. `Secret` hides
//! itself from `Debug`/`Display`, and every secret made in this process is known to the one
//! redactor ([`redact`]), which scrubs it in every form it can travel in (raw, HTTP Basic
//! `base64(key:)` and `base64(:key)`, base64 and base32 at any offset, hex, backwards, rot13;
//! and the text read through escapes, up to three times over (percent, `\u`, `\x`, HTML
//! `&#..;`), and separators (spaces, colons, NULs, zero-width ones)), any fragment of 8 or more
//! characters of any of those forms (a key cut by an excerpt, whichever side of the cut), and
//! anything shaped like a provider key. It runs on whole text, before any excerpt is cut, and
//! at every sink: errors, the log file, the store's error, journal and audit columns, exports.

use std::fmt;
use std::sync::RwLock;

use base64::Engine;

/// An admin key or token. Only `expose` reveals it, at the point it goes into a request header.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap `s`, and teach the redactor every form of it.
    pub fn new(s: impl Into<String>) -> Secret {
        let s = s.into();
        learn(&s);
        Secret(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// The shortest fragment of a secret that is removed wherever it stands.
pub const FRAGMENT: usize = 8;

/// Every known secret's forms: the short ones whole, and every window of `FRAGMENT` bytes of
/// the long ones in one set, so scrubbing a text costs one lookup per byte however many
/// secrets are known.
struct Known {
    short: Vec<String>,
    /// Every window of `FRAGMENT` bytes of every long form, as a little-endian `u64`: one
    /// multiply-hash lookup per byte of text (SipHash over byte arrays cost 60 ns a byte).
    windows: Option<rustc_hash::FxHashSet<u64>>,
}

/// A window of `FRAGMENT` bytes as the set holds it.
fn window(w: &[u8]) -> Option<u64> {
    <[u8; FRAGMENT]>::try_from(w).ok().map(u64::from_le_bytes)
}

static KNOWN: RwLock<Known> = RwLock::new(Known {
    short: Vec::new(),
    windows: None,
});

/// The forms one secret can travel in.
pub fn forms(key: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let url = base64::engine::general_purpose::URL_SAFE;
    let mut out = vec![
        key.to_string(),
        b64.encode(format!("{key}:")),
        b64.encode(format!(":{key}")),
        url.encode(format!("{key}:")),
        url.encode(format!(":{key}")),
        b64.encode(key),
        crate::model::text::percent_encode(key),
        serde_json::to_string(key)
            .map(|j| j[1..j.len() - 1].to_string())
            .unwrap_or_default(),
    ];
    // Padding and the encoding of the last bytes vary with what follows: keep the stable part.
    for f in out.iter_mut() {
        while f.ends_with('=') {
            f.pop();
        }
    }
    // Inside a longer base64 stream the key starts at any of three byte offsets, and each
    // offset encodes it differently: keep, for each, the characters that depend on the key
    // alone (the first and last group also hold neighbouring bytes, so they are dropped).
    for engine in [b64, url] {
        for offset in 0..3usize {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(key.as_bytes());
            let enc = engine.encode(&bytes);
            let enc = enc.trim_end_matches('=');
            let (skip, keep_to) = (if offset == 0 { 0 } else { 4 }, enc.len().saturating_sub(4));
            if keep_to > skip {
                out.push(enc[skip..keep_to].to_string());
            }
        }
    }
    // Base32 (RFC 4648), at each of the five byte offsets a stream can start it at, with the
    // groups at each end (which also hold neighbouring bytes) dropped.
    for offset in 0..5usize {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(key.as_bytes());
        let enc = base32(&bytes);
        let (skip, keep_to) = (if offset == 0 { 0 } else { 8 }, enc.len().saturating_sub(8));
        if keep_to > skip {
            out.push(enc[skip..keep_to].to_string());
        }
    }
    // Hex in either case, base64 of the hex, the key written backwards, its base64 written
    // backwards, and rot13. Escapes (percent, `\u`, `&#`) and separators between its
    // characters are read through by `decoded`, not listed here.
    let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    let b64 = base64::engine::general_purpose::STANDARD;
    out.push(b64.encode(&hex).trim_end_matches('=').to_string());
    out.push(
        b64.encode(hex.to_uppercase())
            .trim_end_matches('=')
            .to_string(),
    );
    out.push(hex.to_uppercase());
    out.push(hex);
    out.push(key.chars().rev().collect());
    out.push(
        b64.encode(key)
            .trim_end_matches('=')
            .chars()
            .rev()
            .collect(),
    );
    out.push(key.chars().map(rot13).collect());
    out.retain(|f| f.len() >= 4);
    out.sort();
    out.dedup();
    out
}

fn rot13(c: char) -> char {
    match c {
        'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
        'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
        _ => c,
    }
}

/// RFC 4648 base32, without padding.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decoded bytes, each with the range of the original text it came from.
type Decoded = (Vec<u8>, Vec<(usize, usize)>);

/// `text` read through the ways a character can be written as another: percent escapes
/// (`%73`), JSON and C escapes (`\u0073`, `\x73`), HTML character references (`&#115;`,
/// `&#x73;`), and separators put between characters (spaces, `:`, line breaks, NUL as in
/// UTF-16, zero-width characters), dropped. Each byte of the result knows the range of `text`
/// it came from, so what is found in it is scrubbed from `text`. `None` when nothing in
/// `text` is written that way. Applied until nothing changes, at most three times (a key
/// percent-encoded three times over is read; four times is not).
fn decoded(text: &str) -> Option<Decoded> {
    let mut bytes = text.as_bytes().to_vec();
    let mut from: Vec<(usize, usize)> = (0..bytes.len()).map(|i| (i, i + 1)).collect();
    let mut changed = false;
    for _ in 0..3 {
        match decode_once(&bytes, &from) {
            Some((b, f)) => {
                (bytes, from) = (b, f);
                changed = true;
            }
            None => break,
        }
    }
    changed.then_some((bytes, from))
}

/// A separator at the start of `b` and its length: what `decoded` drops from its view, and
/// `learn` from a secret's forms (a secret with a space in it is found once escaped too).
/// Spaces, `:`, tabs, line breaks, NUL (UTF-16's other byte), and the invisible ones: soft
/// hyphen, U+180E, U+200B..U+200D, U+2060..U+2064, U+FEFF.
fn separator(b: &[u8]) -> Option<usize> {
    match b {
        [b' ' | b':' | b'\t' | b'\n' | b'\r' | 0, ..] => Some(1),
        // A line break or tab as JSON (and C) writes it.
        [b'\\', b'n' | b't' | b'r', ..] => Some(2),
        [0xC2, 0xAD, ..] => Some(2),
        [0xE1, 0xA0, 0x8E, ..]
        | [0xE2, 0x80, 0x8B..=0x8D, ..]
        | [0xE2, 0x81, 0xA0..=0xA4, ..]
        | [0xEF, 0xBB, 0xBF, ..] => Some(3),
        _ => None,
    }
}

/// `b` without its separators.
fn without_separators(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match separator(&b[i..]) {
            Some(len) => i += len,
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    out
}

fn decode_once(b: &[u8], from: &[(usize, usize)]) -> Option<Decoded> {
    fn hex(digits: &[u8]) -> Option<u32> {
        let s = std::str::from_utf8(digits).ok()?;
        u32::from_str_radix(s, 16).ok()
    }
    fn dec(digits: &[u8]) -> Option<u32> {
        std::str::from_utf8(digits).ok()?.parse().ok()
    }
    // An escape at `i`: the ASCII byte it stands for and how many bytes it takes.
    let escape = |i: usize| -> Option<(u8, usize)> {
        let rest = &b[i..];
        let all_hex = |d: &[u8]| d.iter().all(u8::is_ascii_hexdigit);
        let (value, len) = match rest {
            [b'%', h @ ..] if h.len() >= 2 && all_hex(&h[..2]) => (hex(&h[..2])?, 3),
            [b'\\', b'u' | b'U', h @ ..] if h.len() >= 4 && all_hex(&h[..4]) => (hex(&h[..4])?, 6),
            [b'\\', b'x', h @ ..] if h.len() >= 2 && all_hex(&h[..2]) => (hex(&h[..2])?, 4),
            [b'&', b'#', b'x' | b'X', h @ ..] => {
                let n = h.iter().take(7).position(|c| *c == b';')?;
                (hex(&h[..n]).filter(|_| n > 0)?, n + 4)
            }
            [b'&', b'#', d @ ..] => {
                let n = d.iter().take(8).position(|c| *c == b';')?;
                (dec(&d[..n]).filter(|_| n > 0)?, n + 3)
            }
            _ => return None,
        };
        (value < 0x80).then_some((value as u8, len))
    };
    let mut out = Vec::with_capacity(b.len());
    let mut map = Vec::with_capacity(b.len());
    let mut changed = false;
    let mut i = 0;
    while i < b.len() {
        if let Some((value, len)) = escape(i) {
            out.push(value);
            map.push((from[i].0, from[i + len - 1].1));
            (i, changed) = (i + len, true);
        } else if let Some(len) = separator(&b[i..]) {
            (i, changed) = (i + len, true);
        } else {
            out.push(b[i]);
            map.push(from[i]);
            i += 1;
        }
    }
    changed.then_some((out, map))
}

/// Teach the redactor a secret (done by `Secret::new`; secrets of under 4 characters are too
/// short to find without scrubbing ordinary words).
pub fn learn(key: &str) {
    if key.len() < 4 {
        return;
    }
    let new = forms(key);
    // The provider's public prefix every such key has (`sk-admin-`): not a secret, so no
    // fragment that is mostly it is one (it took `helpdesk-admin@` for a key).
    let public = public_prefix(key);
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    for f in new {
        // Read through separators, the text holds the form without its own (a password
        // with a space in it, escaped).
        let bare = without_separators(f.as_bytes());
        if f.len() < FRAGMENT {
            if !known.short.contains(&f) {
                known.short.push(f);
            }
            continue;
        }
        let windows = known.windows.get_or_insert_with(Default::default);
        for fb in [f.as_bytes(), &bare] {
            let skip = if fb.starts_with(&key.as_bytes()[..public]) {
                public
            } else {
                0
            };
            for (i, w) in fb.windows(FRAGMENT).enumerate() {
                // A window with fewer than four bytes of the secret part is mostly prefix:
                // `-admin-t` would take `ask-admin-team` for a key starting with `t`.
                if skip > 0 && i + FRAGMENT < skip + 4 {
                    continue;
                }
                if let Some(w) = window(w) {
                    windows.insert(w);
                }
            }
        }
    }
}

/// The providers' public key prefixes, longest first: every key of its kind starts so.
const PUBLIC_PREFIXES: &[&str] = &[
    "sk-ant-admin01-",
    "sk-ant-api03-",
    "sk-svcacct-",
    "sk-admin-",
    "sk-proj-",
    "sk-ant-",
    "sk-",
];

/// How many leading bytes of `key` are a provider's public prefix ([`PUBLIC_PREFIXES`]);
/// none for another secret. A fixed list: a `-` early in a key's random part is not the end
/// of its prefix.
fn public_prefix(key: &str) -> usize {
    PUBLIC_PREFIXES
        .iter()
        .find(|p| key.starts_with(*p))
        .map_or(0, |p| p.len())
}

/// A token that starts like a provider key is one when it carries a key's random part: a run
/// of 16 or more letters and digits (`sk-admin-team-rotation` is words).
fn key_shaped(token: &str) -> bool {
    token
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|run| run.len() >= 16)
}

/// Prefixes of provider keys: OpenAI (`sk-`, `sk-admin-`, `sk-proj-`, `sk-svcacct-`),
/// Anthropic (`sk-ant-`), Cursor (`key_` hex tokens are ids, not secrets, and stay).
const KEY_PREFIXES: &[&str] = &["sk-"];

/// `text` with every known secret, in every form and every fragment of 8+ characters, and
/// every `sk-...` token that is not a provider's own redacted form (`sk-abc...def`), replaced
/// by `[REDACTED]`. `extra` secrets are learned first (they are usually known already).
pub fn redact(text: &str, extra: &[&Secret]) -> String {
    for s in extra {
        learn(&s.0);
    }
    // Key shapes first: a whole key goes as one, its public prefix with it (the fragments
    // learned from it leave the prefix out).
    let out = scrub_key_shapes(text);
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    scrub_known(&out, &known)
}

/// Whether `text` holds a secret the redactor would hide (a known one in any form it reads,
/// or a whole key by its shape): what a sink asks before it keeps text as it is.
pub fn holds_secret(text: &str) -> bool {
    redact(text, &[]) != text
}

/// Mark every byte covered by a known form, or by a window of `FRAGMENT` bytes of one, and
/// replace each marked run (widened to whole characters) with `[REDACTED]`.
fn scrub_known(text: &str, known: &Known) -> String {
    let bytes = text.as_bytes();
    let mut marked = vec![false; bytes.len()];
    let mut any = false;
    for f in &known.short {
        for (i, _) in text.match_indices(f.as_str()) {
            marked[i..i + f.len()].iter_mut().for_each(|m| *m = true);
            any = true;
        }
    }
    // Every window of every long form, anywhere in the text: one lookup per byte.
    if let Some(windows) = &known.windows {
        for (i, w) in bytes.windows(FRAGMENT).enumerate() {
            if window(w).is_some_and(|w| windows.contains(&w)) {
                marked[i..i + FRAGMENT].iter_mut().for_each(|m| *m = true);
                any = true;
            }
        }
    }
    // The same windows, read through escapes and separators, marking what each found byte
    // came from. Short forms (under 8 bytes) are matched in the text as it is only: across
    // spaces and escapes they would take ordinary words.
    if let Some(windows) = &known.windows
        && let Some((view, from)) = decoded(text)
    {
        for (i, w) in view.windows(FRAGMENT).enumerate() {
            if window(w).is_some_and(|w| windows.contains(&w)) {
                let (a, b) = (from[i].0, from[i + FRAGMENT - 1].1);
                marked[a..b].iter_mut().for_each(|m| *m = true);
                any = true;
            }
        }
    }
    if !any {
        return text.to_string();
    }
    // Widen every mark to whole characters, then replace each marked run.
    for (start, ch) in text.char_indices() {
        let end = start + ch.len_utf8();
        if marked[start..end].iter().any(|m| *m) {
            marked[start..end].iter_mut().for_each(|m| *m = true);
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for (start, ch) in text.char_indices() {
        if marked[start] {
            if !in_run {
                out.push_str("[REDACTED]");
            }
            in_run = true;
        } else {
            in_run = false;
            out.push(ch);
        }
    }
    out
}

fn scrub_key_shapes(out: &str) -> String {
    let mut result = String::with_capacity(out.len());
    let mut rest = out;
    while let Some(pos) = KEY_PREFIXES.iter().filter_map(|p| rest.find(p)).min() {
        // A key starts a token: `sk-` inside a word (`Task-Automation...`) is the word's.
        let inside = rest[..pos]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        if inside {
            result.push_str(&rest[..pos + 3]);
            rest = &rest[pos + 3..];
            continue;
        }
        result.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
            .unwrap_or(tail.len());
        let token = &tail[..end];
        if is_redacted_form(token) || !key_shaped(token) {
            result.push_str(token);
        } else {
            result.push_str("[REDACTED]");
        }
        rest = &tail[end..];
    }
    result.push_str(rest);
    result
}

/// A provider's own redacted form of a key: a short head, `...`, a short tail (OpenAI
/// `sk-abc...wxyz`, Anthropic `sk-ant-api03-R2D...igAA`). A whole key followed or broken by
/// `...` is not one.
fn is_redacted_form(token: &str) -> bool {
    match token.split_once("...") {
        Some((head, tail)) => {
            head.len() <= 20 && !tail.is_empty() && tail.len() <= 8 && !tail.contains('.')
        }
        None => false,
    }
}

/// Cut `s` to at most `max` characters (with `…`), after redacting it whole: a secret that
/// straddles the cut cannot survive in part.
pub fn redacted_excerpt(s: &str, max: usize) -> String {
    let s = redact(s, &[]);
    let s = s.trim();
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Random keys, in random encodings, echoed at random places around an excerpt's cut:
        /// no 8 consecutive characters of the key survive.
        #[test]
        fn no_fragment_of_a_key_survives_any_encoding_or_cut(
            key in "[A-Za-z0-9_-]{20,60}",
            form in 0usize..26,
            pad in "[ -~]{0,5}",
            before in "[ a-z:\"{}]{0,200}",
            after in "[ a-z:\"{}]{0,80}",
            cut in 20usize..300,
        ) {
            let s = Secret::new(format!("cur{key}"));
            let k = s.expose().to_string();
            let b64 = base64::engine::general_purpose::STANDARD;
            let shown = match form {
                0 => k.clone(),
                1 => b64.encode(format!("{k}:")),
                2 => b64.encode(format!(":{k}")),
                3 => format!("Basic {}", b64.encode(format!("{k}:"))),
                4 => serde_json::to_string(&k).unwrap(),
                5 => crate::connectors::path::segment(&k).unwrap(),
                // Inside a longer encoded stream, at any byte offset.
                6 => b64.encode(format!("{pad}{k}{pad}")),
                7 => base64::engine::general_purpose::URL_SAFE.encode(format!("{pad}{k}")),
                8 => k.bytes().map(|b| format!("{b:02X}")).collect(),
                9 => k.chars().rev().collect(),
                // Every byte percent-encoded, in either case, and twice.
                10 => k.bytes().map(|b| format!("%{b:02X}")).collect(),
                11 => k.bytes().map(|b| format!("%{b:02x}")).collect(),
                12 => k.bytes().map(|b| format!("%25{b:02X}")).collect(),
                // JSON and C escapes, HTML character references.
                13 => k.bytes().map(|b| format!("\\u{b:04x}")).collect(),
                14 => k.bytes().map(|b| format!("\\x{b:02x}")).collect(),
                15 => k.bytes().map(|b| format!("&#{b};")).collect(),
                16 => k.bytes().map(|b| format!("&#x{b:X};")).collect(),
                // Separated: colon hex, UTF-16LE, spaced, zero-width spaced.
                17 => k.bytes().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"),
                18 => k.chars().flat_map(|c| [c, '\0']).collect(),
                19 => k.chars().map(|c| format!("{c} ")).collect(),
                20 => k.chars().map(|c| format!("{c}\u{200b}")).collect(),
                21 => super::base32(format!("{pad}{k}").as_bytes()),
                22 => k.chars().map(super::rot13).collect(),
                23 => b64.encode(&k).trim_end_matches('=').chars().rev().collect(),
                24 => b64.encode(k.bytes().map(|b| format!("{b:02X}")).collect::<String>()),
                _ => b64.encode(k.bytes().map(|b| format!("{b:02x}")).collect::<String>()),
            };
            let text = format!("{before}{shown}{after}");
            let out = redacted_excerpt(&text, cut);
            for w in k.as_bytes().windows(FRAGMENT) {
                let w = std::str::from_utf8(w).unwrap();
                prop_assert!(!out.contains(w), "{w} in {out}");
            }
            // Encoded forms: no 8 characters of the encoded form either.
            // Inside a stream, the groups at each end also encode the neighbouring bytes.
            let inner = if matches!(form, 6 | 7 | 21 | 23 | 24 | 25) && shown.len() > 24 {
                &shown[12..shown.len() - 12]
            } else {
                &shown[..]
            };
            let chars: Vec<char> = inner.chars().collect();
            for w in chars.windows(FRAGMENT + 4) {
                let w: String = w.iter().collect();
                prop_assert!(!out.contains(&w), "{w:?} in {out:?}");
            }
        }
    }

    #[test]
    fn a_cut_key_is_gone_on_both_sides_of_the_cut() {
        let s = Secret::new("cur-AAAABBBBCCCCDDDDEEEEFFFFGGGG");
        let text = format!("{{\"error\":\"bad key {}\"}}", s.expose());
        // Cut the raw text inside the key: what is left of the key is still a known fragment.
        let cut = &text[..30];
        let out = redact(cut, &[]);
        assert!(!out.contains("AAAABBBB"), "{out}");
        assert!(out.contains("[REDACTED]"), "{out}");
    }

    #[test]
    fn a_whole_key_next_to_dots_is_not_a_redacted_form() {
        for text in [
            "incident sk-proj-ABCDEFGHIJKLMNOPQRSTUV... pasted",
            "...sk-ant-api03-QWERTYUIOPASDFGHJKLZXCVBNM...",
            "sk-proj-ABCDEFGHIJKLMNOP...QRSTUVWXYZ0123456789",
        ] {
            let out = redact(text, &[]);
            assert!(
                !out.contains("ABCDEFGH") && !out.contains("QWERTYUI"),
                "{out}"
            );
        }
        // The providers' own forms stay readable.
        let shown = "sk-abc...wxyz and sk-ant-api03-R2D...igAA";
        assert_eq!(redact(shown, &[]), shown);
    }

    /// A secret with spaces in it (a database password) is found escaped too: the view drops
    /// separators, so the secret is learned without them as well.
    #[test]
    fn a_secret_with_spaces_is_found_escaped() {
        let s = Secret::new("correct horse battery staple");
        let escaped: String = s.expose().bytes().map(|b| format!("\\u{b:04x}")).collect();
        let out = redact(&format!("bad password {escaped} given"), &[]);
        assert!(!out.contains("\\u0063\\u006f"), "{out}");
        assert!(out.starts_with("bad password [REDACTED]"), "{out}");
        let twice: String = s.expose().bytes().map(|b| format!("%25{b:02X}")).collect();
        let out = redact(&twice, &[]);
        assert_eq!(out, "[REDACTED]");
    }

    /// Ordinary text, with spaces, colons, escapes and references, comes through unchanged
    /// beside known secrets (short and long), and a short one is not found across words.
    #[test]
    fn ordinary_text_is_left_alone() {
        let _long = Secret::new("cur-QWxhZGRpbjpvcGVuIHNlc2FtZQ");
        // (Known to the whole test process: a word other tests print would be scrubbed there.)
        let _short = Secret::new("zqxj");
        for text in [
            "to do next: a 100% match, &#169; 2026, \\u00e9t\\u00e9 at 10:30, zq xj",
            "GET /v1/organization/users?after=user_abc%3D&limit=100 HTTP/1.1",
            "z q x j, z:q:x:j, %7Aqxj",
        ] {
            assert_eq!(redact(text, &[]), text);
        }
    }

    /// A provider key's public prefix (`sk-admin-`, `sk-ant-admin01-`: every such key has it)
    /// is not a secret: words that hold it are left alone (an address `helpdesk-admin@`, a
    /// reason naming `ask-admin-team`), as is a word only shaped like a key's start. The key,
    /// and any fragment of its secret part, are still redacted.
    #[test]
    fn a_key_s_public_prefix_is_not_a_secret() {
        let _openai = Secret::new("sk-admin-df3AG9rYLdOxoOF3qi8HOw9358dpTB7HudaaLFt");
        let _anthropic = Secret::new("sk-ant-admin01-Qm9vdHN0cmFwUGFzc3dvcmQxMjM0NTY3OA");
        for text in [
            "helpdesk-admin@example.com",
            "ticket ask-admin-team: dsk-admin-9 rotation",
            "task-ant-admin01 and sk-admin-team-rotation",
        ] {
            assert_eq!(redact(text, &[]), text);
        }
        assert_eq!(
            redact("id df3AG9rYLdOxoOF3 and Qm9vdHN0cmFw", &[]),
            "id [REDACTED] and [REDACTED]"
        );
        assert_eq!(
            redact("sk-admin-df3AG9rYLdOxoOF3qi8HOw9358dpTB7HudaaLFt", &[]),
            "[REDACTED]"
        );
    }

    /// As JSON writes it: a key cut up by line breaks or tabs travels as `\n` and `\t`, and
    /// is found through them. A key whose random part has a `-` early is not taken for its
    /// prefix (`sk-proj-ABCDEFG-HIJ...`: the fragment after the prefix is a secret), and a word
    /// that only holds `sk-` inside it (`Task-AutomationPipelineV2`) is no key.
    #[test]
    fn json_escapes_and_prefix_edges() {
        let _k = Secret::new("sk-proj-ABCDEFG-HIJKLMNOPQRSTUVWXYZ0123456789abcdefgh");
        let json = r#"{"name":"sk-p
roj-
ABCD
EFG-
HIJK	LMNO
PQRS"}"#;
        assert!(!redact(json, &[]).contains("HIJK"), "{}", redact(json, &[]));
        assert_eq!(redact("id ABCDEFG-HIJ", &[]), "id [REDACTED]");
        let word = "project Task-AutomationPipelineV2 and ask-AutomationPipelineV2";
        assert_eq!(redact(word, &[]), word);
    }

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("sk-admin-supersecret");
        assert_eq!(format!("{s:?} {s}"), "Secret([REDACTED]) [REDACTED]");
    }

    #[test]
    fn redacts_known_and_key_shaped_secrets_but_keeps_redacted_forms() {
        let s = Secret::new("hunter2-token");
        let text = "bad key hunter2-token and sk-proj-AbCdEf0123456789xyz, shown as sk-abc...def";
        assert_eq!(
            redact(text, &[&s]),
            "bad key [REDACTED] and [REDACTED], shown as sk-abc...def"
        );
    }
}
