//! Helpers shared by the receiver's integration tests: the repository's fixtures, and signing an SNS
//! message as SNS does (SignatureVersion 2, RSA-SHA256 with the fixture key).
#![allow(dead_code)] // each test binary uses what it needs

use std::path::Path;

use base64::Engine as _;
use serde_json::{Value, json};

/// A file under the repository's shared fixtures (`crates/incident-core/tests/fixtures/`).
pub(crate) fn fixture(path: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../incident-core/tests/fixtures").join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// SNS's string to sign: the message's fields for its type, `name\nvalue\n` each, in order.
fn string_to_sign(m: &Value) -> String {
    let keys: &[&str] = if m["Type"] == "Notification" {
        &["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    } else {
        &["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    };
    keys.iter().filter_map(|k| m[*k].as_str().map(|v| format!("{k}\n{v}\n"))).collect()
}

/// Sign `m` (SignatureVersion 2) with the fixture key, as SNS would.
pub(crate) fn sign_v2(m: &mut Value) {
    use rustls_pki_types::pem::PemObject as _;
    let key =
        rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(&fixture("sns/test-signing-key.pk8.pem")).expect("key");
    let pair = ring::signature::RsaKeyPair::from_pkcs8(key.secret_pkcs8_der()).expect("rsa key");
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        string_to_sign(m).as_bytes(),
        &mut sig,
    )
    .expect("sign");
    m["SignatureVersion"] = json!("2");
    m["Signature"] = json!(base64::engine::general_purpose::STANDARD.encode(sig));
}
