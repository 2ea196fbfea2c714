//! Output: the exact bytes credbox prints on stdout.
//!
//! Only a [`Validated`] credential can be rendered, and the text is built in
//! full before the binary writes it in one go: stdout is either the whole
//! credential or nothing.

use crate::validation::Validated;

/// The text to print for a validated credential, newline included.
///
/// Headers become a compact JSON object in the helper's order (names and
/// values are JSON-escaped by `serde_json`, never spliced in by hand); an
/// API key is printed alone.
pub fn render(validated: &Validated) -> String {
    match validated {
        Validated::Headers(headers) => {
            let mut out = String::from("{");
            for (i, (name, value)) in headers.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json_string(name));
                out.push(':');
                out.push_str(&json_string(value));
            }
            out.push_str("}\n");
            out
        }
        Validated::ApiKey(key) => format!("{key}\n"),
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_a_json_object_of_strings_in_order() {
        let text = render(&Validated::Headers(vec![
            ("Z".into(), "1".into()),
            ("A".into(), r#"{"x":1}\"#.into()),
        ]));
        assert_eq!(text, "{\"Z\":\"1\",\"A\":\"{\\\"x\\\":1}\\\\\"}\n");
        let parsed: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["A"], r#"{"x":1}\"#);
        assert!(parsed.values().all(|v| v.is_string()));
    }

    #[test]
    fn api_key_is_the_key_alone() {
        assert_eq!(render(&Validated::ApiKey("abc".into())), "abc\n");
    }
}
