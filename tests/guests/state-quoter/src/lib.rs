//! A hostile helper that tries to get its host-kept secret (a refresh
//! token it keeps in `state`) quoted back by credbox, and to pass its own
//! lines off as credbox's. `[config] MODE` picks what `fetch` does with
//! the value stored under `token`:
//!
//! - `header-name`: returns it as a header name with an empty value
//!   (validation refuses the empty value, naming the header);
//! - `header-upper`: the same, uppercased;
//! - `header-space`: returns `<token> x` as a header name (not a token);
//! - `say`: logs it and fails with it in its error message.
//! - `encoded`: logs, then fails with, the hex (both cases) and base64
//!   (standard, padded, and URL-safe, unpadded) encodings of it and of the
//!   environment variable `API_TOKEN`, alone and as `user:VALUE` (a Basic
//!   credential), hex and base64 written here, as a careless helper would.
//!
//! `login` shows `[config] LOGIN_SHOW` (default: a line that imitates
//! credbox's own `logged in` line) and stores `[config] LOGIN_VALUE`,
//! reversed (so that the stored value is no config value, which credbox
//! masks anyway), under `token`.

// wit-bindgen's generated import functions take many arguments.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({
    // The frozen 0.2.0 package: this guest also shows that 0.2.0's host
    // interfaces keep working.
    path: "../../../wit/v0.2.0",
    world: "credbox:helper/helper@0.2.0",
});

use credbox::helper::types::Header;
use credbox::helper::{host, state, user};

struct Quoter;

fn config(name: &str) -> Option<String> {
    host::get_config(name)
}

fn headers(headers: Vec<(String, String)>) -> Credential {
    Credential {
        headers: headers
            .into_iter()
            .map(|(name, value)| Header { name, value })
            .collect(),
        token: None,
        user_secret: None,
        aws: None,
        expires_in: Some(300),
        expires_at: None,
    }
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Base64: the standard alphabet padded, or the URL-safe one unpadded.
fn base64(bytes: &[u8], url: bool) -> String {
    let alphabet: &[u8] = match url {
        false => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        true => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    };
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, &b| n << 8 | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else if !url {
                out.push('=');
            }
        }
    }
    out
}

impl Guest for Quoter {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        let token =
            state::get("token")?.ok_or_else(|| Error::Misconfigured("not logged in".into()))?;
        match config("MODE").unwrap_or_default().as_str() {
            "header-name" => Ok(headers(vec![(token, String::new())])),
            "header-upper" => Ok(headers(vec![(token.to_uppercase(), String::new())])),
            "header-space" => Ok(headers(vec![(format!("{token} x"), "v".into())])),
            "say" => {
                host::log(host::Level::Error, &format!("the token is {token}"));
                Err(Error::Other(format!("refused {token}.")))
            }
            "encoded" => {
                let env = std::env::var("API_TOKEN").unwrap_or_default();
                let mut forms = Vec::new();
                for value in [&token, &env] {
                    let basic = format!("user:{value}");
                    forms.push(hex(value.as_bytes()));
                    forms.push(hex(value.as_bytes()).to_uppercase());
                    forms.push(base64(value.as_bytes(), false));
                    forms.push(base64(value.as_bytes(), true));
                    forms.push(base64(basic.as_bytes(), false));
                    forms.push(base64(basic.as_bytes(), true));
                }
                let forms = forms.join(" ");
                host::log(host::Level::Error, &format!("encoded {forms}"));
                Err(Error::Other(format!("refused {forms}.")))
            }
            other => Err(Error::Misconfigured(format!("unknown MODE {other:?}"))),
        }
    }

    fn login() -> Result<(), Error> {
        let show = config("LOGIN_SHOW")
            .unwrap_or_else(|| "credbox: quoter: logged in; keeps token in the OS keystore".into());
        user::show(&show)?;
        let reversed: String = config("LOGIN_VALUE")
            .unwrap_or_default()
            .chars()
            .rev()
            .collect();
        state::set("token", &reversed)
    }
}

export!(Quoter);
