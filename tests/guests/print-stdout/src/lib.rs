//! Floods its own stdout and stderr, which must never reach credbox's
//! stdout (the credential's channel).

use credbox_guest::{Credential, Error, Helper, Request};

struct PrintStdout;

impl Helper for PrintStdout {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        for _ in 0..10_000 {
            println!("STDOUT-LEAK");
        }
        for _ in 0..10_000 {
            eprintln!("STDERR-LINE");
        }
        Ok(Credential::bearer("quiet"))
    }
}

credbox_guest::export!(PrintStdout);
