//! Client protocols: how each kind of client asks credbox for a
//! credential and reads the answer. One module per protocol; each reads
//! the client's request into a [`crate::request::Request`] context and
//! renders a checked credential the way that client reads it, failures
//! included.

pub mod aws;
pub mod cargo;
pub mod kubernetes;
pub mod rfc3339;
