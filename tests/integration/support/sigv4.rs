//! Checking AWS Signature Version 4 on a request a loopback server read:
//! proof that a client signed with the secret access key credbox handed it,
//! not just that it sent the key id.

use sha2::{Digest, Sha256};

use super::crypto::{hex, hmac_sha256 as hmac};
use super::servers::Request;

/// What a correctly signed request says about its signer.
#[derive(Debug, PartialEq, Eq)]
pub struct Signer {
    /// The access key id in the `Credential` scope.
    pub access_key_id: String,
    /// `X-Amz-Security-Token`, when sent.
    pub session_token: Option<String>,
}

/// Checks `request`'s `Authorization: AWS4-HMAC-SHA256 …` against
/// `secret`: `Err` says what is missing or wrong.
pub fn verify(request: &Request, secret: &str) -> Result<Signer, String> {
    let authorization = request
        .header("authorization")
        .ok_or("no Authorization header")?;
    let rest = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not AWS4-HMAC-SHA256")?;
    let part = |name: &str| {
        rest.split(", ")
            .find_map(|p| p.strip_prefix(name))
            .ok_or(format!("no {name} in Authorization"))
    };
    let credential = part("Credential=")?;
    let signed_headers = part("SignedHeaders=")?;
    let signature = part("Signature=")?;
    let (access_key_id, scope) = credential.split_once('/').ok_or("bad Credential")?;
    let scope_parts: Vec<&str> = scope.split('/').collect();
    let [date, region, service, "aws4_request"] = scope_parts[..] else {
        return Err(format!("bad credential scope {scope}"));
    };
    let amz_date = request.header("x-amz-date").ok_or("no X-Amz-Date")?;
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((&request.target, ""));
    let mut query: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    query.sort();
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let value = request
            .header(name)
            .ok_or(format!("signed header {name} not sent"))?;
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        canonical_headers += &format!("{name}:{value}\n");
    }
    // Services other than S3 sign the path as sent, URI-encoded once more
    // (botocore and the JS SDK alike).
    let path: String = path
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let canonical = format!(
        "{}\n{path}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        request.method,
        query.join("&"),
        hex(&Sha256::digest(&request.body))
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let expected = hex(&hmac(&key, to_sign.as_bytes()));
    if expected != signature {
        return Err("the signature does not match the secret".into());
    }
    Ok(Signer {
        access_key_id: access_key_id.to_owned(),
        session_token: request.header("x-amz-security-token").map(str::to_owned),
    })
}

/// A request the AWS CLI 1.45.11 (botocore 1.43.11) sent for `aws sts
/// get-caller-identity` with key `AKIDCREDBOX`, secret `secretkey/abc` and
/// session token `sess-token-1`, recorded from a real run.
#[cfg(test)]
fn recorded() -> Request {
    let headers = [
        ("host", "127.0.0.1:18766"),
        (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("x-amz-date", "20261126T145026Z"),
        ("x-amz-security-token", "sess-token-1"),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDCREDBOX/20261126/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=9d666c58775924e2b9e0f5faff08d1e6e5aa9fa709de1ffa6643c613ca4d368b",
        ),
    ];
    Request {
        method: "POST".into(),
        target: "/".into(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: b"Action=GetCallerIdentity&Version=2011-06-15".to_vec(),
    }
}

#[test]
fn a_recorded_aws_cli_request_verifies_with_its_secret_only() {
    assert_eq!(
        verify(&recorded(), "secretkey/abc"),
        Ok(Signer {
            access_key_id: "AKIDCREDBOX".into(),
            session_token: Some("sess-token-1".into()),
        })
    );
    assert!(verify(&recorded(), "secretkey/abd").is_err());
    let mut tampered = recorded();
    tampered.body.push(b'x');
    assert!(verify(&tampered, "secretkey/abc").is_err());
}
