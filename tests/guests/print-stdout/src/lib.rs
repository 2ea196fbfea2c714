//! Floods its own stdout and stderr, which must never reach credbox's
//! stdout (the credential's channel). With config `FLOOD_MIB`, it also
//! writes that many MiB to stdout in 1 MiB writes (cheap in fuel: the
//! host does the copying), to show credbox keeps only a capped part.

use std::io::Write;

use credbox_guest::{Credential, Error, Helper, Request, config};

struct PrintStdout;

impl Helper for PrintStdout {
    fn fetch(_request: Request) -> Result<Credential, Error> {
        for _ in 0..10_000 {
            println!("STDOUT-LEAK");
        }
        for _ in 0..10_000 {
            eprintln!("STDERR-LINE");
        }
        if let Some(mib) = config("FLOOD_MIB") {
            let mib: usize = mib
                .parse()
                .map_err(|_| Error::misconfigured("FLOOD_MIB is not a number"))?;
            let chunk = vec![b'x'; 1 << 20];
            let mut stdout = std::io::stdout().lock();
            for _ in 0..mib {
                stdout
                    .write_all(&chunk)
                    .map_err(|e| Error::other(format!("write failed: {e}")))?;
            }
        }
        Ok(Credential::bearer("quiet"))
    }
}

credbox_guest::export!(PrintStdout);
