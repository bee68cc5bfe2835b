//! Ed25519 signatures for what must be trusted on another machine: plans (signed when planned, checked
//! before they run) and evidence manifests.
//!
//! A [`SigningKey`] is read from a PKCS#8 private key, DER or PEM (`-----BEGIN PRIVATE KEY-----`), as
//! written by [`SigningKey::generate`] (`incident keygen`) or `openssl genpkey -algorithm ed25519`. A
//! [`PublicKey`] is written `ed25519:` followed by the 32-byte key in standard base64; a policy lists the
//! public keys it trusts, so the machine that runs a plan needs no private key.
//!
//! A [`Signature`] names the public key that made it. [`Trust::verify`] accepts it only when that key is
//! trusted *and* the signature checks out over the exact bytes given.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

const PUBLIC_PREFIX: &str = "ed25519:";

/// An Ed25519 private key.
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the private key.
        f.debug_struct("SigningKey").field("public", &self.public_key()).finish()
    }
}

impl SigningKey {
    /// A new random key and its PKCS#8 v2 document (DER), to be written to a file readable by its owner
    /// only.
    ///
    /// # Errors
    /// `Internal` when the system's random source fails.
    pub fn generate() -> Result<(Self, Vec<u8>)> {
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| Error::internal("could not generate an Ed25519 key: the random source failed"))?;
        let der = doc.as_ref().to_vec();
        let key = Self::from_pkcs8_der(&der)?;
        Ok((key, der))
    }

    /// Read a PKCS#8 private key, PEM or DER.
    ///
    /// # Errors
    /// `InvalidInput` when the bytes are neither, or not an Ed25519 key (the message never shows them).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        match std::str::from_utf8(bytes) {
            Ok(text) if text.contains("-----BEGIN") => Self::from_pkcs8_der(&pem_body(text, "PRIVATE KEY")?),
            _ => Self::from_pkcs8_der(bytes),
        }
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        // `maybe_unchecked` also reads PKCS#8 v1 (no embedded public key), which is what OpenSSL writes.
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| Error::invalid_input(format!("signing key: not an Ed25519 PKCS#8 private key ({e})")))?;
        Ok(Self { pair })
    }

    /// The private key as PEM (`-----BEGIN PRIVATE KEY-----`), from a PKCS#8 document.
    #[must_use]
    pub fn pkcs8_pem(der: &[u8]) -> String {
        let body = B64.encode(der);
        let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
        for chunk in body.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str("-----END PRIVATE KEY-----\n");
        out
    }

    /// The matching public key.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        let mut key = [0_u8; 32];
        key.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey(key)
    }

    /// Sign `message`.
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature { key: self.public_key(), value: B64.encode(self.pair.sign(message).as_ref()) }
    }
}

fn pem_body(text: &str, label: &str) -> Result<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text
        .find(&begin)
        .ok_or_else(|| Error::invalid_input(format!("signing key: no `{begin}` line (PKCS#8 PEM expected)")))?;
    let rest = &text[start + begin.len()..];
    let stop = rest.find(&end).ok_or_else(|| Error::invalid_input(format!("signing key: no `{end}` line")))?;
    let body: String = rest[..stop].chars().filter(|c| !c.is_whitespace()).collect();
    B64.decode(body.as_bytes()).map_err(|_| Error::invalid_input("signing key: the PEM body is not base64"))
}

/// An Ed25519 public key, written `ed25519:BASE64`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; 32]);

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", B64.encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for PublicKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::invalid_input(format!("public key {s:?}: expected `ed25519:` and 32 bytes in base64"));
        let body = s.trim().strip_prefix(PUBLIC_PREFIX).ok_or_else(bad)?;
        let bytes = B64.decode(body.as_bytes()).map_err(|_| bad())?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
        Ok(Self(key))
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for PublicKey {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PublicKey".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^ed25519:[A-Za-z0-9+/]{43}=$",
            "description": "An Ed25519 public key: `ed25519:` and its 32 bytes in standard base64."
        })
    }
}

/// A signature and the public key that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Signature {
    /// The signer's public key.
    pub key: PublicKey,
    /// The 64-byte Ed25519 signature, standard base64.
    pub value: String,
}

/// The public keys a verifier accepts signatures from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    keys: Vec<PublicKey>,
}

impl Trust {
    /// Trust exactly `keys`.
    #[must_use]
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> Self {
        let mut keys: Vec<PublicKey> = keys.into_iter().collect();
        keys.sort_unstable();
        keys.dedup();
        Self { keys }
    }

    /// Also trust `key`.
    #[must_use]
    pub fn with(mut self, key: PublicKey) -> Self {
        if !self.keys.contains(&key) {
            self.keys.push(key);
            self.keys.sort_unstable();
        }
        self
    }

    /// No key is trusted: signatures are not required.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The trusted keys.
    #[must_use]
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Check `signature` over `message`: `what` names the signed thing in the error.
    ///
    /// # Errors
    /// `Integrity` when the signature is missing (and some key is trusted), made by an untrusted key, or
    /// does not match the message.
    pub fn verify(&self, what: &str, message: &[u8], signature: Option<&Signature>) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let Some(sig) = signature else {
            return Err(Error::integrity(format!(
                "{what} is not signed, and signatures are required (trusted keys: {})",
                self.list()
            )));
        };
        if !self.keys.contains(&sig.key) {
            return Err(Error::integrity(format!(
                "{what} is signed by {}, which is not trusted (trusted: {})",
                sig.key,
                self.list()
            )));
        }
        let bytes = B64
            .decode(sig.value.as_bytes())
            .map_err(|_| Error::integrity(format!("{what}: the signature is not base64")))?;
        UnparsedPublicKey::new(&ED25519, sig.key.0).verify(message, &bytes).map_err(|_| {
            Error::integrity(format!("{what}: bad signature by {}: the signed content was changed", sig.key))
        })
    }

    fn list(&self) -> String {
        self.keys.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::ErrorKind;

    #[test]
    fn sign_and_verify_round_trip_through_pem_and_text() {
        let (key, der) = SigningKey::generate().unwrap();
        let again = SigningKey::parse(SigningKey::pkcs8_pem(&der).as_bytes()).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        let from_der = SigningKey::parse(&der).unwrap();
        assert_eq!(key.public_key(), from_der.public_key());

        let public: PublicKey = key.public_key().to_string().parse().unwrap();
        let trust = Trust::new([public]);
        let sig = again.sign(b"plan digest");
        trust.verify("plan", b"plan digest", Some(&sig)).unwrap();
        let json = serde_json::to_string(&sig).unwrap();
        let back: Signature = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sig);
    }

    #[test]
    fn reads_an_openssl_pkcs8_v1_key() {
        // `openssl genpkey -algorithm ed25519` (PKCS#8 v1, no public key inside).
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIP514HxhAvqGCoGZRQRjMra2/Pf+5ZMjKfZa0beNI/AZ\n-----END PRIVATE KEY-----\n";
        let key = SigningKey::parse(pem.as_bytes()).unwrap();
        let sig = key.sign(b"x");
        Trust::new([key.public_key()]).verify("x", b"x", Some(&sig)).unwrap();
    }

    #[test]
    fn refuses_missing_untrusted_and_changed() {
        let (key, _) = SigningKey::generate().unwrap();
        let (other, _) = SigningKey::generate().unwrap();
        let trust = Trust::new([key.public_key()]);
        let sig = key.sign(b"a");

        let missing = trust.verify("plan p", b"a", None).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::Integrity);
        assert!(missing.to_string().contains("plan p is not signed"), "{missing}");

        let untrusted = trust.verify("plan p", b"a", Some(&other.sign(b"a"))).unwrap_err();
        assert!(untrusted.to_string().contains("not trusted"), "{untrusted}");

        let changed = trust.verify("plan p", b"b", Some(&sig)).unwrap_err();
        assert!(changed.to_string().contains("bad signature"), "{changed}");

        let mut forged = sig.clone();
        forged.value = "not base64!".into();
        assert_eq!(trust.verify("plan p", b"a", Some(&forged)).unwrap_err().kind(), ErrorKind::Integrity);

        // Nothing trusted: nothing required.
        Trust::default().verify("plan p", b"a", None).unwrap();
    }

    #[test]
    fn bad_keys_are_invalid_input_without_echoing_them() {
        let err = SigningKey::parse(b"secret-material-here").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(!err.to_string().contains("secret-material"), "{err}");
        assert!("ed25519:short".parse::<PublicKey>().is_err());
        assert!("rsa:AAAA".parse::<PublicKey>().is_err());
        let dbg = format!("{:?}", SigningKey::generate().unwrap().0);
        assert!(dbg.starts_with("SigningKey { public: ed25519:"), "{dbg}");
    }
}
