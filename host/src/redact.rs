//! Keeps secrets out of everything credbox writes to stderr or stores.
//!
//! Anything a helper says (its log lines, its error messages, what it
//! printed before a panic, the header names it returned, the URLs it was
//! refused) passes through one [`Redactor`] that knows the values credbox
//! handed it (allowlisted environment variables and config values) and also
//! masks whatever follows `Bearer `/`Basic `.
//!
//! A secret of [`MIN_SECRET_LEN`] bytes or more is masked in its encoded
//! forms too ([`encoded_forms`]: hex, and base64 in both alphabets, alone
//! or inside a longer encoded text), so that a helper that encodes it in
//! an error message does not get it printed.
//!
//! The guarantees, all tested:
//!
//! - **Case does not matter**: a secret is found in any ASCII case (a host
//!   name is lowercased before it is reported, a header name may be
//!   uppercased by the helper).
//! - **No cut leaves half a secret**: text is cut *before* it is processed,
//!   but the cut keeps a lookahead of the longest secret, and nothing is
//!   printed from that lookahead: a secret that straddles a cut (of a
//!   message, or of the 64 KiB capture of the helper's output) is dropped
//!   whole, never printed in part.
//! - **Linear time**: each secret is searched with Knuth-Morris-Pratt (all
//!   occurrences, overlapping ones too), the auth schemes in one pass, on a
//!   window of at most `max + longest secret` bytes, whatever the input's
//!   size.
//! - **One line**: control characters (newlines included), the Unicode line
//!   and paragraph separators (U+2028, U+2029) and the bidirectional
//!   controls (U+200E, U+200F, U+061C, U+202A-U+202E, U+2066-U+2069) are
//!   escaped as `\n`, `\u{202e}`, ... so a helper cannot forge extra lines
//!   of credbox output or reorder what a terminal shows.

use base64ct::{Base64Unpadded, Base64UrlUnpadded, Encoding};

/// Environment and config values shorter than this are not treated as
/// secrets: masking `1` or `true` everywhere would garble messages without
/// protecting anything. State values (learnt with [`Redactor::add`]) are
/// secrets whatever their length: a shorter one is masked where it stands
/// as a whole word (see [`Redactor::add`]).
pub const MIN_SECRET_LEN: usize = 6;

/// What replaces a secret.
pub const MASK: &str = "[redacted]";

/// What replaces a whole text that would still show a secret after
/// masking (see [`Redactor::line`]): shorter than [`MIN_SECRET_LEN`], so it
/// cannot hold one itself, as [`MASK`] could (a secret `redact`).
pub const WITHHELD: &str = "[…]";

/// Longest message, log line or record credbox prints or stores, in bytes
/// (before the `…` that marks a cut).
pub const MAX_LINE: usize = 1024;

/// The authentication schemes whose credential is masked even when credbox
/// does not know it (lowercase; matched in any case).
const SCHEMES: [&str; 2] = ["bearer ", "basic "];

/// One secret, lowercased, with its KMP failure table.
#[derive(Debug, Clone)]
struct Secret {
    lower: Vec<u8>,
    failure: Vec<usize>,
    /// Whether only whole-word occurrences count (a short state value):
    /// neither end may touch an ASCII letter or digit next to it.
    whole_word: bool,
}

impl Secret {
    fn with_words(value: &str, whole_word: bool) -> Secret {
        let lower = value.as_bytes().to_ascii_lowercase();
        let mut failure = vec![0; lower.len()];
        let mut k = 0;
        for i in 1..lower.len() {
            while k > 0 && lower[i] != lower[k] {
                k = failure[k - 1];
            }
            if lower[i] == lower[k] {
                k += 1;
            }
            failure[i] = k;
        }
        Secret {
            lower,
            failure,
            whole_word,
        }
    }

    /// Whether the occurrence `start..end` of a whole-word secret stands
    /// alone: no ASCII letter or digit glued to either end. The end of
    /// `haystack` counts as a boundary (a cut window: the conservative
    /// side).
    fn stands_alone(&self, haystack: &[u8], start: usize, end: usize) -> bool {
        let glued = |outside: Option<&u8>, edge: u8| {
            edge.is_ascii_alphanumeric() && outside.is_some_and(u8::is_ascii_alphanumeric)
        };
        let first = self.lower[0];
        let last = self.lower[self.lower.len() - 1];
        let before = start.checked_sub(1).and_then(|i| haystack.get(i));
        !glued(before, first) && !glued(haystack.get(end), last)
    }

    /// Every occurrence (overlapping ones too) in `haystack`, which is
    /// already ASCII-lowercased, as byte ranges. O(haystack + secret).
    fn find_all(&self, haystack: &[u8], out: &mut Vec<(usize, usize)>) {
        let pattern = &self.lower;
        let mut k = 0;
        for (i, &b) in haystack.iter().enumerate() {
            while k > 0 && b != pattern[k] {
                k = self.failure[k - 1];
            }
            if b == pattern[k] {
                k += 1;
            }
            if k == pattern.len() {
                let (start, end) = (i + 1 - k, i + 1);
                if !self.whole_word || self.stands_alone(haystack, start, end) {
                    out.push((start, end));
                }
                k = self.failure[k - 1];
            }
        }
    }
}

/// Masks known secret values in text.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    secrets: Vec<Secret>,
    longest: usize,
}

impl Redactor {
    /// A redactor for these values (short ones are ignored), each masked
    /// as it is and in its encoded forms (see [`encoded_forms`]).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut redactor = Redactor::default();
        for value in secrets {
            if value.len() >= MIN_SECRET_LEN {
                redactor.push_everywhere(value);
            }
        }
        redactor
    }

    /// Adds a secret learnt during the run (a helper's state value, read
    /// or written). Whatever its length it is a secret: one of
    /// [`MIN_SECRET_LEN`] bytes or more is masked wherever it appears, and
    /// so are its encoded forms (see [`encoded_forms`]); a shorter one
    /// where it stands as a whole word (no ASCII letter or digit glued to
    /// it: `abc` is masked in `header abc` and `ABC.x`, not in `abcdef`),
    /// so that it cannot garble ordinary words around it, and not encoded.
    /// A value without an ASCII letter or digit (empty, `-`) cannot be
    /// told from punctuation and is not masked.
    pub fn add(&mut self, secret: &str) {
        if secret.len() >= MIN_SECRET_LEN {
            self.push_everywhere(secret);
        } else if secret.bytes().any(|b| b.is_ascii_alphanumeric()) {
            self.push(secret.to_ascii_lowercase(), true);
        }
    }

    /// Masks `value` everywhere, as it is and in its encoded forms.
    fn push_everywhere(&mut self, value: &str) {
        self.push(value.to_ascii_lowercase(), false);
        for form in encoded_forms(value.as_bytes()) {
            self.push(form, false);
        }
    }

    /// Masks `lower` (already lowercased), as a whole word only if
    /// `whole_word` and every earlier push of it was too.
    fn push(&mut self, lower: String, whole_word: bool) {
        if let Some(known) = self
            .secrets
            .iter_mut()
            .find(|s| s.lower == lower.as_bytes())
        {
            // Known from the environment or config as well: everywhere.
            known.whole_word &= whole_word;
            return;
        }
        self.longest = self.longest.max(lower.len());
        self.secrets.push(Secret::with_words(&lower, whole_word));
    }

    /// The longest text masked (a secret or one of its encoded forms), in
    /// bytes: how far a cut must look ahead.
    pub fn longest(&self) -> usize {
        self.longest
    }

    /// `text` as one line of at most [`MAX_LINE`] bytes (plus `…` when
    /// cut), secrets masked, controls escaped.
    pub fn redact(&self, text: &str) -> String {
        self.line(text, MAX_LINE)
    }

    /// `text` as one line of at most `max` bytes (plus `…` when cut),
    /// secrets masked, controls escaped. Reads at most `max` plus the
    /// longest secret's bytes of `text`.
    pub fn line(&self, text: &str, max: usize) -> String {
        self.process(text, Some(max), true, true)
    }

    /// `text` with secrets masked, lines kept as they are (for text that is
    /// split into lines afterwards, each then passing [`Redactor::line`]).
    /// `complete` is false when `text` is a prefix of something longer
    /// (a capped capture): then its last `longest - 1` bytes, which may
    /// hold the start of a secret, are dropped.
    pub fn mask(&self, text: &str, complete: bool) -> String {
        self.process(text, None, complete, false)
    }

    fn process(&self, text: &str, max: Option<usize>, complete: bool, escape: bool) -> String {
        let lookahead = self.longest.saturating_sub(1);
        // The window read: `max` plus a lookahead, so that every secret that
        // starts inside what may be printed is seen whole.
        let mut window = match max {
            Some(max) => floor_char(text, max.saturating_add(self.longest).max(max)),
            None => text.len(),
        };
        if window > text.len() {
            window = text.len();
        }
        let cut = !complete || window < text.len();
        // What may be printed: nothing from the lookahead of a cut window.
        let safe = if cut {
            floor_char(text, window.saturating_sub(lookahead))
        } else {
            window
        };
        let text = &text[..window];
        let lower = text.as_bytes().to_ascii_lowercase();

        let mut ranges = Vec::new();
        for secret in &self.secrets {
            secret.find_all(&lower, &mut ranges);
        }
        mask_schemes(text, &lower, &mut ranges);
        ranges.sort_unstable();

        let limit = max.unwrap_or(usize::MAX);
        let mut out = String::with_capacity(limit.min(safe) + 16);
        let mut truncated = cut;
        let mut ranges = ranges.into_iter().peekable();
        let mut at = 0;
        let mut piece = String::new();
        while at < safe {
            // Skip past ranges that end before `at` (merged by skipping).
            while ranges.peek().is_some_and(|&(_, end)| end <= at) {
                ranges.next();
            }
            let next = match ranges.peek() {
                Some(&(start, end)) if start <= at => {
                    // A masked run: extend over every range it touches.
                    let mut end = end;
                    while let Some(&(s, e)) = ranges.peek() {
                        if s > end {
                            break;
                        }
                        end = end.max(e);
                        ranges.next();
                    }
                    piece.clear();
                    piece.push_str(MASK);
                    end
                }
                _ => {
                    let c = text[at..].chars().next().expect("at < safe <= len");
                    piece.clear();
                    if escape && needs_escape(c) {
                        push_escaped(&mut piece, c);
                    } else {
                        piece.push(c);
                    }
                    at + c.len_utf8()
                }
            };
            if out.len() + piece.len() > limit {
                truncated = true;
                break;
            }
            out.push_str(&piece);
            at = next;
        }
        if truncated && max.is_some() {
            out.push('…');
        }
        // Escaping (`\u{0}`) and the mask itself write characters the input
        // did not have next to ones it did: with an odd secret they can
        // spell it out (or the mask holds it: a secret `redact`). The result
        // is small (at most `max` bytes), so look once more, and withhold
        // the whole text if a secret shows.
        if self.shows_a_secret(&out) {
            // Within the bound too: a line cut to less than WITHHELD is
            // the cut alone.
            return match max {
                Some(max) if WITHHELD.len() > max + '…'.len_utf8() => "…".to_owned(),
                _ => WITHHELD.to_owned(),
            };
        }
        out
    }

    /// Whether `text` holds any secret, in any ASCII case.
    fn shows_a_secret(&self, text: &str) -> bool {
        if self.secrets.is_empty() {
            return false;
        }
        let lower = text.as_bytes().to_ascii_lowercase();
        let mut found = Vec::new();
        self.secrets.iter().any(|secret| {
            secret.find_all(&lower, &mut found);
            !found.is_empty()
        })
    }
}

/// The encoded forms of a secret `value` that are masked with it, each
/// ASCII-lowercased (they are matched in any case, as the secret is):
///
/// - its hex encoding (lowercase and uppercase digits alike);
/// - its base64 encoding, standard and URL-safe alphabets, padded or not
///   (the `=` that may follow carries no bit of it), at each of the three
///   alignments it can have inside a longer encoded text (`user:secret`
///   in a `Basic` credential, a claim in a JWT): the run of characters
///   made of its bits alone, and that run with the last character when
///   the encoded text ends with the secret (its last bits padded with
///   zeros).
///
/// So every character of an encoded text that carries bits of the secret
/// alone is masked; a character at either end that mixes its bits with a
/// neighbour's may show (at most one character: 4 bits of it). A value
/// encoded in another ASCII case than the one credbox knows it in is not
/// found encoded.
pub fn encoded_forms(value: &[u8]) -> Vec<String> {
    let mut forms = vec![hex::encode(value)];
    // `value` after `skip` bytes of a longer text: its own bits fill the
    // characters from `first` to `end` (6 bits a character); the one at
    // `end`, if any, holds its last bits and the next byte's, or zeros.
    for (skip, first) in [(0, 0), (1, 2), (2, 3)] {
        let mut shifted = vec![0; skip];
        shifted.extend_from_slice(value);
        let end = shifted.len() * 8 / 6;
        for encoded in [
            Base64Unpadded::encode_string(&shifted),
            Base64UrlUnpadded::encode_string(&shifted),
        ] {
            let encoded = encoded.to_ascii_lowercase();
            forms.extend(encoded.get(first..end).map(str::to_owned));
            forms.extend(encoded.get(first..).map(str::to_owned));
        }
    }
    forms.retain(|form| !form.is_empty());
    forms.sort();
    forms.dedup();
    forms
}

/// The longest text a secret of `len` bytes is masked as: its hex
/// encoding's, twice its length (for a secret of [`MIN_SECRET_LEN`] bytes
/// or more; a shorter one is masked as it is). What a capture must keep
/// past its cut, for state values not yet learnt.
pub fn longest_form(len: usize) -> usize {
    if len >= MIN_SECRET_LEN { 2 * len } else { len }
}

/// Adds the ranges of the credentials after `Bearer ` or `Basic ` (any
/// case). Linear: each token scan starts after a space and stops at the
/// first whitespace or quote, so no two scans overlap.
fn mask_schemes(text: &str, lower: &[u8], ranges: &mut Vec<(usize, usize)>) {
    // `lower` is `text` ASCII-lowercased: same length, same boundaries.
    let lower = std::str::from_utf8(lower).expect("ASCII lowercasing keeps UTF-8");
    for scheme in SCHEMES {
        for (at, _) in lower.match_indices(scheme) {
            let start = at + scheme.len();
            let end = text[start..]
                .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
                .map_or(text.len(), |i| start + i);
            if end > start {
                ranges.push((start, end));
            }
        }
    }
}

/// The largest char boundary of `text` at or below `at`.
fn floor_char(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Whether `c` could break a line or reorder what a terminal shows.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{061c}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

fn push_escaped(out: &mut String, c: char) {
    if c.is_control() {
        out.extend(c.escape_default());
    } else {
        out.extend(c.escape_unicode());
    }
}

/// `text` (not from a helper, so with no secrets to mask: a manifest's
/// name, a path, a duration as written) as one line of at most `max`
/// bytes, controls escaped, `…` marking a cut. Reads at most `max` bytes.
pub fn one_line(text: &str, max: usize) -> String {
    Redactor::default().line(text, max)
}

/// Longest piece of manifest or command-line text quoted in a message.
pub const MAX_QUOTE: usize = 128;

/// Manifest or command-line text (an allowlist entry, a duration as
/// written) for quoting in a message: one line, at most [`MAX_QUOTE`]
/// bytes. Reads at most that much of `text`.
pub fn clip(text: &str) -> String {
    one_line(text, MAX_QUOTE)
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the
/// cut with `…`.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    format!("{}…", &text[..floor_char(text, max)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_never_spells_out_a_secret() {
        // Found by the `redact` fuzz target: the escaped NULs around `%(`
        // read `\u{0}%(\u{0}`, which holds this secret although the input
        // does not.
        let r = Redactor::new(["0}%(\\u{"]);
        let line = r.line("\0%(\0", 22);
        assert!(!line.contains("0}%(\\u{"), "{line:?}");
        assert_eq!(line, WITHHELD);
        // Found next: a secret the mask itself holds.
        let r = Redactor::new(["redact"]);
        assert_eq!(r.line("the redact word", 64), WITHHELD);
        assert_eq!(r.mask("the REDACT word", true), WITHHELD);
        // Ordinary text is untouched by the second look.
        assert_eq!(r.line("\0 plain", 64), "\\u{0} plain");
    }

    #[test]
    fn a_withheld_line_keeps_its_bound() {
        // Found by the `redact` fuzz target: cut to 1 byte, `xjxx` reads
        // `x…`, where the short state value `x` stands alone; what replaces
        // the line must fit its bound too.
        let mut r = Redactor::default();
        r.add("x");
        let line = r.line("xjxx", 1);
        assert!(line.len() <= 1 + '…'.len_utf8(), "{line:?}");
        assert_eq!(line, "…");
    }

    #[test]
    fn known_values_are_masked() {
        let r = Redactor::new(["s3cr3t-token", "short", "s3cr3t"]);
        assert_eq!(
            r.redact("token s3cr3t-token and s3cr3t, short"),
            "token [redacted] and [redacted], short"
        );
    }

    #[test]
    fn secrets_added_during_a_run_are_masked_too() {
        let mut r = Redactor::new(["configured-secret"]);
        r.add("short");
        r.add("learnt-refresh-token-value");
        r.add("learnt-refresh-token-value");
        // Its hex form is the longest text masked.
        assert_eq!(r.longest(), 2 * "learnt-refresh-token-value".len());
        let line = r.redact("a=learnt-refresh-token-value b=configured-secret c=short");
        assert!(!line.contains("learnt-refresh"), "{line}");
        assert!(!line.contains("configured-secret"), "{line}");
        assert!(
            line.ends_with("c=[redacted]"),
            "a short state value is a secret too: {line}"
        );
    }

    #[test]
    fn short_state_values_are_masked_as_whole_words() {
        let mut r = Redactor::default();
        r.add("ab1cd");
        r.add("7");
        r.add("");
        r.add("--");
        assert_eq!(
            r.redact("header AB1CD has an empty value; url https://ab1cd.x/7?q=7"),
            "header [redacted] has an empty value; url https://[redacted].x/[redacted]?q=[redacted]"
        );
        // Not inside longer words or numbers: ordinary text stays.
        assert_eq!(
            r.redact("xab1cd ab1cdx 17 70 a-b"),
            "xab1cd ab1cdx 17 70 a-b"
        );
        // Punctuation-only values are not secrets.
        assert_eq!(r.redact("a -- b"), "a -- b");
        // A value known from config (everywhere) stays masked everywhere.
        let mut r = Redactor::new(["config-value"]);
        r.add("config-value");
        assert_eq!(r.redact("xconfig-valuex"), "x[redacted]x");
    }

    #[test]
    fn hex_and_base64_forms_of_a_secret_are_masked() {
        // Encodings worked out by hand (Python's binascii), not by the
        // crates the redactor uses.
        let r = Redactor::new(["refresh-abcdef"]);
        for (text, masked) in [
            ("hex 726566726573682d616263646566.", "hex [redacted]."),
            ("HEX 726566726573682D616263646566.", "HEX [redacted]."),
            // Alone, padded or not (the `=` carries no bit of it).
            ("b64 cmVmcmVzaC1hYmNkZWY= end", "b64 [redacted]= end"),
            ("b64 cmVmcmVzaC1hYmNkZWY end", "b64 [redacted] end"),
            // Inside a longer encoded text, at each alignment (secret +
            // `tail`, `x`*k + secret + `!`): one character at each end mixes its
            // bits with its neighbours'.
            ("cmVmcmVzaC1hYmNkZWZ0YWls", "[redacted]Z0YWls"),
            ("eHJlZnJlc2gtYWJjZGVmIQ==", "eH[redacted]IQ=="),
            ("eHhyZWZyZXNoLWFiY2RlZiE=", "eHh[redacted]iE="),
            // `user:secret`, as in a Basic header's credential.
            (
                "auth dXNlcjpyZWZyZXNoLWFiY2RlZg==",
                "auth dXNlcjp[redacted]==",
            ),
        ] {
            assert_eq!(r.redact(text), masked, "{text}");
        }
        // Both alphabets: `+/` and `-_` (`x`*k + secret + `~` or `!`).
        let r = Redactor::new(["k>?~~>?-state-value"]);
        for (text, masked) in [
            ("az4/fn4+Py1zdGF0ZS12YWx1ZQ==", "[redacted]=="),
            ("az4_fn4-Py1zdGF0ZS12YWx1ZQ", "[redacted]"),
            ("az4_fn4-Py1zdGF0ZS12YWx1ZX4=", "[redacted]X4="),
            ("eGs+P35+Pj8tc3RhdGUtdmFsdWV+", "eG[redacted]V+"),
            ("eGs-P35-Pj8tc3RhdGUtdmFsdWV-", "eG[redacted]V-"),
            ("eHhrPj9+fj4/LXN0YXRlLXZhbHVlIQ==", "eHh[redacted]IQ=="),
            ("eHhrPj9-fj4_LXN0YXRlLXZhbHVlIQ==", "eHh[redacted]IQ=="),
            ("6b3e3f7e7e3e3f2d73746174652d76616c7565", "[redacted]"),
        ] {
            assert_eq!(r.redact(text), masked, "{text}");
        }
    }

    #[test]
    fn state_values_are_masked_encoded_too_but_short_ones_only_as_words() {
        let mut r = Redactor::default();
        r.add("refresh-abcdef");
        assert_eq!(
            r.redact("state 726566726573682D616263646566 cmVmcmVzaC1hYmNkZWY="),
            "state [redacted] [redacted]="
        );
        // The capture's lookahead covers the longest form: the hex one.
        assert_eq!(r.longest(), 2 * "refresh-abcdef".len());
        assert_eq!(longest_form(MIN_SECRET_LEN), 2 * MIN_SECRET_LEN);
        assert_eq!(longest_form(5), 5);
        // A short value's encodings would be short and common words: only
        // the value itself is masked, as a whole word.
        let mut r = Redactor::default();
        r.add("ab1cd");
        assert_eq!(
            r.redact("6162316364 YWIxY2Q ab1cd"),
            "6162316364 YWIxY2Q [redacted]"
        );
    }

    #[test]
    fn a_cut_never_shows_an_encoded_secret() {
        let secret = "refresh-abcdef";
        let hex = "726566726573682d616263646566";
        let r = Redactor::new([secret]);
        for pad in 0..40 {
            let text = format!("{}{hex}tail", "x".repeat(pad));
            for max in 0..text.len() + 2 {
                let out = r.line(&text, max);
                assert!(
                    !out.contains(&hex[..hex.len() / 2 + 1]),
                    "pad {pad} max {max}: {out:?}"
                );
            }
        }
    }

    #[test]
    fn secrets_are_found_in_any_case() {
        let r = Redactor::new(["MiXeD-Secret-42"]);
        assert_eq!(
            r.redact("https://mixed-secret-42.evil.example and MIXED-SECRET-42"),
            "https://[redacted].evil.example and [redacted]"
        );
    }

    #[test]
    fn overlapping_occurrences_are_all_masked() {
        let r = Redactor::new(["abcab1abcab"]);
        let text = "abcab1abcab1abcab";
        assert_eq!(r.redact(text), "[redacted]");
        let r = Redactor::new(["aaaaaa"]);
        assert_eq!(r.redact("xaaaaaaaay"), "x[redacted]y");
    }

    #[test]
    fn auth_schemes_are_masked_even_when_unknown() {
        let r = Redactor::default();
        assert_eq!(
            r.redact("sent Authorization: Bearer eyJhbGciOi.x.y to host"),
            "sent Authorization: Bearer [redacted] to host"
        );
        assert_eq!(r.redact("BASIC dXNlcjpwYXNz\"}"), "BASIC [redacted]\"}");
        assert_eq!(r.redact("a bearer "), "a bearer ");
        assert_eq!(r.redact("no scheme here"), "no scheme here");
        assert_eq!(
            r.redact("bearer x bearer y"),
            "bearer [redacted] bearer [redacted]"
        );
    }

    #[test]
    fn output_is_one_line() {
        let r = Redactor::default();
        assert_eq!(
            r.redact("a\ncredbox: other: fake\r\x1b[31m"),
            "a\\ncredbox: other: fake\\r\\u{1b}[31m"
        );
        assert_eq!(
            r.redact("a\u{2028}b\u{2029}c\u{202e}d\u{2066}e\u{85}f"),
            "a\\u{2028}b\\u{2029}c\\u{202e}d\\u{2066}e\\u{85}f"
        );
    }

    #[test]
    fn a_cut_never_leaves_part_of_a_secret() {
        let secret = "SECRET-abcdefghij";
        let r = Redactor::new([secret]);
        // For every place a cut can fall in and around the secret, no
        // prefix of it (longer than its first character) is printed.
        for pad in 0..40 {
            let text = format!("{}{secret}tail", "x".repeat(pad));
            for max in 0..text.len() + 2 {
                let out = r.line(&text, max);
                assert!(out.len() <= max + '…'.len_utf8(), "{out}");
                let body = out.trim_end_matches('…');
                for n in 2..=secret.len() {
                    assert!(
                        !body
                            .to_ascii_lowercase()
                            .ends_with(&secret[..n].to_ascii_lowercase()),
                        "pad {pad} max {max}: {out:?}"
                    );
                }
            }
        }
        // A capture cut through the secret drops its start.
        // (The lookahead dropped is that of its longest form, the hex.)
        let captured = format!(
            "line one, longer than the lookahead\nline two\nvalue={}",
            &secret[..9]
        );
        let masked = r.mask(&captured, false);
        assert!(!masked.contains("SECRET-"), "{masked:?}");
        assert!(masked.starts_with("line one, longer"), "{masked:?}");
        assert_eq!(r.mask(&format!("a {secret}\nb"), true), "a [redacted]\nb");
    }

    #[test]
    fn work_is_bounded_by_the_window() {
        // 4 MiB of `bearer x ` (quadratic before) and of control
        // characters: only max + lookahead bytes are read.
        let r = Redactor::new(["s3cr3t-token"]);
        let big = "bearer x ".repeat(500_000);
        let start = std::time::Instant::now();
        let out = r.line(&big, 512);
        assert!(out.len() <= 512 + 3, "{}", out.len());
        let controls = "\u{1}".repeat(4 << 20);
        let out = r.line(&controls, 512);
        assert!(out.len() <= 512 + 3 && out.starts_with("\\u{1}"), "{out}");
        assert!(start.elapsed() < std::time::Duration::from_millis(200));
    }

    #[test]
    fn one_line_bounds_manifest_text() {
        let out = one_line(&format!("evil\nname{}", "x".repeat(5000)), 64);
        assert!(out.starts_with("evil\\nname"), "{out}");
        assert!(out.len() <= 64 + 3);
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
