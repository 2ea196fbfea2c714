//! The fuzzed modules, compiled from credbox's own sources (not through the
//! `credbox` crate, whose wasmtime would make every sanitizer build take
//! a quarter of an hour). The modules they import are stood in for by the
//! few items they use.
#![allow(dead_code, missing_docs)]

#[path = "../../src/redact.rs"]
pub mod redact;

#[path = "../../src/validation.rs"]
pub mod validation;

pub mod policy {
    pub mod network {
        #[path = "../../../../src/policy/network/allow.rs"]
        pub mod allow;
    }
}

/// Stands in for `credbox::error`: validation builds only this variant.
pub mod error {
    #[derive(Debug)]
    pub enum Error {
        InvalidOutput(String),
    }

    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Error::InvalidOutput(m) => write!(f, "invalid output: {m}"),
            }
        }
    }
}

/// Stands in for `credbox::guest`'s plain data type.
pub mod guest {
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct RawCredential {
        pub headers: Vec<(String, String)>,
        pub token: Option<String>,
        pub expires_in: Option<u64>,
    }
}

/// Stands in for `credbox::manifest::Format`.
pub mod manifest {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Format {
        Headers,
        ApiKey,
    }
}
