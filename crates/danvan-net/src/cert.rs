//! The node key as a TLS identity: a self-signed certificate whose public key
//! is the node key, and the way back from a peer's certificate to its node id.

use std::sync::Arc;

use danvan_model::{NodeId, NodeKey};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::ParsedCertificate;
use rustls::sign::CertifiedKey;

use crate::NetError;

/// The server name put in certificates and sent on dial. Peers are identified
/// by key, never by name, so it is the same for every node.
pub(crate) const SERVER_NAME: &str = "danvan";

/// DER prefix of a PKCS#8 v1 `PrivateKeyInfo` holding an Ed25519 seed
/// (RFC 8410 §7): version 0, algorithm id-Ed25519 (1.3.101.112), and an OCTET
/// STRING wrapping the 32-byte OCTET STRING seed that follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// DER prefix of an Ed25519 `SubjectPublicKeyInfo` (RFC 8410 §4): algorithm
/// id-Ed25519 with no parameters, then a BIT STRING of the 32 key bytes. Any
/// other encoding is not a node key.
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The node's secret key as PKCS#8 DER, the form rcgen and rustls load.
fn pkcs8(key: &NodeKey) -> PrivatePkcs8KeyDer<'static> {
    let mut der = PKCS8_ED25519_PREFIX.to_vec();
    der.extend_from_slice(&key.secret());
    PrivatePkcs8KeyDer::from(der)
}

/// A self-signed certificate for the node key, signed by the node key.
///
/// The validity period is rcgen's default (1975 to 4096): field laptops have
/// wrong clocks, so certificates are never checked for time, only for key.
pub(crate) fn certificate(key: &NodeKey) -> Result<CertificateDer<'static>, NetError> {
    let fail = |e: rcgen::Error| NetError::Certificate(e.to_string());
    let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8(key), &rcgen::PKCS_ED25519)
        .map_err(fail)?;
    // Guard against a silent mismatch: the certificate must carry the node key itself.
    if key_pair.public_key_raw() != key.id().as_bytes() {
        return Err(NetError::Certificate(
            "khóa trong chứng chỉ khác khóa của nút".to_string(),
        ));
    }
    let mut params = rcgen::CertificateParams::new(vec![SERVER_NAME.to_string()]).map_err(fail)?;
    // No subject name: a peer reads only the key (`node_id`), so a name
    // would be bytes in every handshake that no verifier looks at, old or new.
    params.distinguished_name = rcgen::DistinguishedName::new();
    let cert = params.self_signed(&key_pair).map_err(fail)?;
    Ok(cert.der().clone())
}

/// The certificate and signing key rustls presents in every handshake.
pub(crate) fn certified_key(
    key: &NodeKey,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, NetError> {
    let cert = certificate(key)?;
    certified_key_from_parts(cert, key, provider)
}

/// Pairs a certificate with a signing key. Separate from [`certified_key`] so
/// that a test can pair a certificate with the wrong key, as an impostor would.
pub(crate) fn certified_key_from_parts(
    cert: CertificateDer<'static>,
    signer: &NodeKey,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, NetError> {
    let signing_key = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(pkcs8(signer)))
        .map_err(|e| NetError::Certificate(e.to_string()))?;
    Ok(Arc::new(CertifiedKey::new(vec![cert], signing_key)))
}

/// The node id whose key a peer's certificate carries, or why there is none.
pub(crate) fn node_id(cert: &CertificateDer<'_>) -> Result<NodeId, String> {
    let parsed = ParsedCertificate::try_from(cert).map_err(|e| e.to_string())?;
    let spki = parsed.subject_public_key_info();
    let spki: &[u8] = spki.as_ref();
    match spki.strip_prefix(&SPKI_ED25519_PREFIX[..]) {
        Some(raw) => {
            let raw: [u8; 32] = raw
                .try_into()
                .map_err(|_| "khóa Ed25519 sai độ dài".to_string())?;
            let id = NodeId::from_bytes(raw);
            id.verifying_key().map_err(|e| e.to_string())?;
            Ok(id)
        }
        None => Err("khóa công khai không phải Ed25519".to_string()),
    }
}
