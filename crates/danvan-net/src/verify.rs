//! Pinned mutual TLS: a peer is accepted for its key, never for a CA.
//!
//! The same verifier serves both roles. It reads the Ed25519 key out of the
//! peer's self-signed certificate, turns it into a [`NodeId`], and accepts it
//! only if the trust callback says yes (and, on dial, only if it is the node we
//! meant to reach). It then checks the TLS 1.3 handshake signature with that
//! key, so a peer replaying someone else's certificate without the matching
//! secret key fails the handshake.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use danvan_model::NodeId;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::cert;

/// Decides whether a peer's node id may connect. Called on every handshake, in
/// both directions, so a key removed from the trust list is refused from the
/// next connection on.
pub type TrustFn = Arc<dyn Fn(&NodeId) -> bool + Send + Sync>;

/// Why the verifier refused a peer, kept for the one connection the verifier
/// was made for, so that the caller gets a typed error naming the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The trust callback said no.
    Untrusted(NodeId),
    /// The key is not the one we dialed for.
    Unexpected { expected: NodeId, actual: NodeId },
    /// The certificate does not carry a usable Ed25519 key.
    BadCertificate(String),
}

/// The verdict slot of one handshake.
pub(crate) type RefusalSlot = Arc<Mutex<Option<Refusal>>>;

/// The verifier for one handshake (rustls configs are built per connection so
/// that a refusal can be reported for that connection).
pub(crate) struct PinnedPeer {
    trust: TrustFn,
    expected: Option<NodeId>,
    algorithms: WebPkiSupportedAlgorithms,
    addr: SocketAddr,
    refusal: RefusalSlot,
}

impl fmt::Debug for PinnedPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedPeer")
            .field("expected", &self.expected)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl PinnedPeer {
    pub(crate) fn new(
        trust: TrustFn,
        expected: Option<NodeId>,
        algorithms: WebPkiSupportedAlgorithms,
        addr: SocketAddr,
        refusal: RefusalSlot,
    ) -> Self {
        PinnedPeer {
            trust,
            expected,
            algorithms,
            addr,
            refusal,
        }
    }

    /// Accepts the certificate if it carries a key we trust. Validity dates
    /// are not checked: node clocks are unreliable and the key is the identity.
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Result<NodeId, rustls::Error> {
        let refusal = match cert::node_id(end_entity) {
            Err(reason) => Refusal::BadCertificate(reason),
            // A node certificate is self-signed; a chain means something else is talking.
            Ok(_) if !intermediates.is_empty() => {
                Refusal::BadCertificate("chứng chỉ nút không được kèm chuỗi chứng chỉ".to_string())
            }
            Ok(actual) => match self.expected {
                Some(expected) if expected != actual => Refusal::Unexpected { expected, actual },
                _ if !(self.trust)(&actual) => Refusal::Untrusted(actual),
                _ => return Ok(actual),
            },
        };
        match &refusal {
            Refusal::Untrusted(peer) => tracing::warn!(
                peer = %peer, addr = %self.addr,
                "nút {} không có trong danh sách tin cậy: từ chối", peer.short()
            ),
            Refusal::Unexpected { expected, actual } => tracing::warn!(
                expected = %expected, actual = %actual, addr = %self.addr,
                "nút trả lời là {}, không phải {}: từ chối", actual.short(), expected.short()
            ),
            Refusal::BadCertificate(reason) => tracing::warn!(
                addr = %self.addr, "chứng chỉ không hợp lệ: {reason}"
            ),
        }
        let alert = match refusal {
            Refusal::BadCertificate(_) => CertificateError::BadEncoding,
            // access_denied: the certificate is fine, the key is not welcome.
            // The peer maps this alert to `NetError::RefusedByPeer`.
            _ => CertificateError::ApplicationVerificationFailure,
        };
        if let Ok(mut slot) = self.refusal.lock() {
            *slot = Some(refusal);
        }
        Err(rustls::Error::InvalidCertificate(alert))
    }
}

/// The handshake-signature methods `ServerCertVerifier` and
/// `ClientCertVerifier` both require, with the same meaning in each role: TLS
/// 1.3 signatures are checked with the peer certificate's key, and TLS 1.2 is
/// disabled in every config this crate builds, so that method is only reached
/// if that ever changes by mistake, and then it refuses.
macro_rules! handshake_signature_methods {
    () => {
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Err(rustls::Error::General(
                "TLS 1.2 không được hỗ trợ: chỉ dùng TLS 1.3".to_string(),
            ))
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(message, cert, dss, &self.algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algorithms.supported_schemes()
        }
    };
}

impl ServerCertVerifier for PinnedPeer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity, intermediates)?;
        Ok(ServerCertVerified::assertion())
    }

    handshake_signature_methods!();
}

impl ClientCertVerifier for PinnedPeer {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity, intermediates)?;
        Ok(ClientCertVerified::assertion())
    }

    handshake_signature_methods!();
}
