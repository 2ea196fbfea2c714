//! Exercises credbox's host-kept state the way a hostile or careless
//! helper would. `[config] MODE` picks what `fetch` does:
//!
//! - `read`: `access-<length of the token in state token>`, or
//!   `misconfigured` when there is none (what a helper that is not logged
//!   in answers); the stored token itself is never returned;
//! - `rotate`: as `read`, then stores the token with one more `x`;
//! - `leak`: reads the token and prints, logs and returns it in an error;
//! - `big`: stores a value one byte over 16 KiB (must be refused);
//! - `many`: stores 17 names (the 17th must be refused);
//! - `bad-name`: stores under `../token` (must be refused);
//! - `show`: asks to show the user a message (refused outside login);
//! - `spam`: makes 10 000 state calls (must be cut off).
//!
//! `login` shows a verification line and stores `[config] LOGIN_VALUE`,
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

use credbox::helper::{host, state, user};

struct Probe;

fn config(name: &str) -> String {
    host::get_config(name).unwrap_or_default()
}

fn token_credential(token: String) -> Credential {
    Credential {
        headers: Vec::new(),
        token: Some(format!("access-{}", token.len())),
        user_secret: None,
        aws: None,
        expires_in: Some(300),
        expires_at: None,
    }
}

fn read() -> Result<String, Error> {
    state::get("token")?.ok_or_else(|| Error::Misconfigured("not logged in".into()))
}

impl Guest for Probe {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        match config("MODE").as_str() {
            "read" => read().map(token_credential),
            "rotate" => {
                let token = read()?;
                state::set("token", &format!("{token}x"))?;
                Ok(token_credential(token))
            }
            "leak" => {
                let token = read()?;
                println!("stdout: {token}");
                eprintln!("stderr: {token}");
                host::log(host::Level::Error, &format!("log: {token}"));
                Err(Error::Other(format!("error: {token}")))
            }
            "big" => {
                state::set("token", &"b".repeat(16 * 1024 + 1))?;
                Err(Error::Other("a value over 16 KiB was stored".into()))
            }
            "many" => {
                for i in 0..17 {
                    state::set(&format!("name{i}"), "v")?;
                }
                Err(Error::Other("17 names were stored".into()))
            }
            "bad-name" => {
                state::set("../token", "v")?;
                Err(Error::Other("a name with a slash was stored".into()))
            }
            "show" => {
                user::show("please open https://example.invalid and type ABCD")?;
                Err(Error::Other("showed a message outside login".into()))
            }
            "spam" => {
                for _ in 0..10_000 {
                    state::get("token")?;
                }
                Err(Error::Other("10 000 state calls went through".into()))
            }
            other => Err(Error::Misconfigured(format!("unknown MODE {other:?}"))),
        }
    }

    fn login() -> Result<(), Error> {
        user::show("open https://example.invalid/device and enter WDJB-MJHT")?;
        let reversed: String = config("LOGIN_VALUE").chars().rev().collect();
        state::set("token", &reversed)
    }
}

export!(Probe);
