//! Keeps secrets out of everything credbox writes to stderr.
//!
//! Anything a helper says (its log lines, its error messages, what it
//! printed before a panic) passes through a [`Redactor`] that knows the
//! values credbox handed it (allowlisted environment variables and config
//! values) and also masks whatever follows `Bearer `/`Basic `. The result is
//! one line: control characters are escaped so a helper cannot forge extra
//! lines of credbox output.

/// Values shorter than this are not treated as secrets: masking `1` or
/// `true` everywhere would garble messages without protecting anything.
pub const MIN_SECRET_LEN: usize = 6;

/// What replaces a secret.
pub const MASK: &str = "[redacted]";

/// Masks known secret values in text.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for these values (short ones are ignored).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .map(str::to_owned)
            .collect();
        // Longest first, so a secret that contains another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with secrets masked, as one line of printable text.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        escape_controls(&mask_auth_schemes(&out))
    }
}

/// Masks the credential after `Bearer ` or `Basic ` (any case).
fn mask_auth_schemes(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = ["bearer ", "basic "]
        .iter()
        .filter_map(|scheme| {
            lower[search..]
                .find(scheme)
                .map(|i| (search + i, scheme.len()))
        })
        .min()
    {
        let (at, len) = found;
        let token_start = at + len;
        let token_end = text[token_start..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .map_or(text.len(), |i| token_start + i);
        if token_end > token_start {
            out.push_str(&text[copied..token_start]);
            out.push_str(MASK);
            copied = token_end;
        }
        search = token_end.max(token_start);
    }
    out.push_str(&text[copied..]);
    out
}

/// Escapes control characters (newlines included) as `\n`, `\u{1b}`, ...
fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the
/// cut with `…`.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_are_masked() {
        let r = Redactor::new(["s3cr3t-token", "short", "s3cr3t"]);
        assert_eq!(
            r.redact("token s3cr3t-token and s3cr3t, short"),
            "token [redacted] and [redacted], short"
        );
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
    }

    #[test]
    fn output_is_one_line() {
        let r = Redactor::default();
        assert_eq!(
            r.redact("a\ncredbox: other: fake\r\x1b[31m"),
            "a\\ncredbox: other: fake\\r\\u{1b}[31m"
        );
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
