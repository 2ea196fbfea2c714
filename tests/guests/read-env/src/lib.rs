//! Reports which environment variables and config values it can see:
//! only allowlisted ones must be visible.

use credbox_guest::{Credential, Error, Helper, Request, config};

struct ReadEnv;

/// The value, or `<none>` when it is not visible.
fn shown(value: Option<String>) -> String {
    value.unwrap_or_else(|| "<none>".to_owned())
}

impl Helper for ReadEnv {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        Ok(Credential::new()
            .header("X-Home", shown(std::env::var("HOME").ok()))
            .header(
                "X-Secret-Env",
                shown(std::env::var("CREDBOX_TEST_SECRET").ok()),
            )
            .header("X-Secret-Config", shown(config("CREDBOX_TEST_SECRET")))
            // `vars_os`, not `vars`: a non-UTF-8 variable must be counted,
            // not make the guest panic.
            .header("X-Env-Count", std::env::vars_os().count().to_string())
            .header("X-Allowed", shown(config("CREDBOX_ALLOWED"))))
    }
}

credbox_guest::export!(ReadEnv);
