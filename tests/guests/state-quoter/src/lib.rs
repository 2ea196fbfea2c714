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
