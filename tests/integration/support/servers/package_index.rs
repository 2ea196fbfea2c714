//! A Python package index on loopback (PEP 503's simple API) that serves
//! one tiny wheel, built here, to requests with the right Basic
//! credentials, and answers every other request 401: the stand-in pip and
//! uv install from in `protocol_keyring`.

use sha2::{Digest, Sha256};

use super::{Reply, Request, Server};
use crate::support::crypto::{base64, base64url, hex};

/// The project the index serves, as pip and uv ask for it.
pub const PROJECT: &str = "credbox-probe";
/// Its one release's wheel.
pub const WHEEL: &str = "credbox_probe-1.0-py3-none-any.whl";
/// The module the wheel installs, and the text it holds.
pub const MODULE: (&str, &str) = (
    "credbox_probe/__init__.py",
    "MARK = 'served by the loopback index'\n",
);

/// The index on 127.0.0.1: `/simple/credbox-probe/` lists the wheel,
/// `/files/<wheel>` serves it, for `Authorization: Basic user:password`
/// only; `http://127.0.0.1:PORT/simple/` is its URL.
pub fn start(user: &str, password: &str) -> Server {
    let wanted = format!("Basic {}", base64(format!("{user}:{password}").as_bytes()));
    let wheel = wheel();
    let page = format!(
        "<!DOCTYPE html>\n<html><body>\n<a href=\"/files/{WHEEL}#sha256={}\">{WHEEL}</a>\n</body></html>\n",
        hex(&Sha256::digest(&wheel))
    );
    Server::start(move |request: &Request| {
        if request.header("authorization") != Some(wanted.as_str()) {
            return Reply::Full {
                status: 401,
                headers: vec![("www-authenticate", "Basic realm=\"index\"".to_owned())],
                body: b"unauthorized".to_vec(),
            };
        }
        match request.target.as_str() {
            "/simple/credbox-probe/" => Reply::status(200, "text/html", &page),
            path if path == format!("/files/{WHEEL}") => Reply::Full {
                status: 200,
                headers: vec![("content-type", "application/octet-stream".to_owned())],
                body: wheel.clone(),
            },
            _ => Reply::status(404, "text/plain", "not found"),
        }
    })
}

/// The wheel: a zip (stored, not compressed) of the module, METADATA,
/// WHEEL and a RECORD with their hashes.
pub fn wheel() -> Vec<u8> {
    let info = "credbox_probe-1.0.dist-info";
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (MODULE.0.to_owned(), MODULE.1.as_bytes().to_vec()),
        (
            format!("{info}/METADATA"),
            b"Metadata-Version: 2.1\nName: credbox-probe\nVersion: 1.0\n".to_vec(),
        ),
        (
            format!("{info}/WHEEL"),
            b"Wheel-Version: 1.0\nGenerator: credbox-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                .to_vec(),
        ),
    ];
    let mut record: String = files
        .iter()
        .map(|(name, data)| {
            let hash = base64url(&Sha256::digest(data));
            format!("{name},sha256={hash},{}\n", data.len())
        })
        .collect();
    record += &format!("{info}/RECORD,,\n");
    files.push((format!("{info}/RECORD"), record.into_bytes()));
    zip(&files)
}

/// A zip archive of `files`, each stored as is.
fn zip(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    // 1980-01-01 00:00, the format's first day.
    const DATE: u16 = 1 << 5 | 1;
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let offset = u32::try_from(out.len()).unwrap();
        let (crc, size) = (crc32(data), u32::try_from(data.len()).unwrap());
        let name_len = u16::try_from(name.len()).unwrap();
        // Version 2.0, no flags, stored, time, date, CRC, both sizes.
        let common = |v: &mut Vec<u8>| {
            for half in [20u16, 0, 0, 0, DATE] {
                v.extend_from_slice(&half.to_le_bytes());
            }
            for word in [crc, size, size] {
                v.extend_from_slice(&word.to_le_bytes());
            }
            v.extend_from_slice(&name_len.to_le_bytes());
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(&0u16.to_le_bytes()); // extra field
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // made by 2.0
        common(&mut central);
        // Extra, comment, disk, internal attributes.
        for half in [0u16; 4] {
            central.extend_from_slice(&half.to_le_bytes());
        }
        central.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (at, size) = (
        u32::try_from(out.len()).unwrap(),
        u32::try_from(central.len()).unwrap(),
    );
    let count = u16::try_from(files.len()).unwrap();
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for half in [0u16, 0, count, count] {
        out.extend_from_slice(&half.to_le_bytes());
    }
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&at.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment
    out
}

/// CRC-32 (IEEE), bit by bit: the wheel is a few hundred bytes.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                crc >> 1 ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn crc32_of_the_standard_check_string() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}
