//! What can go wrong on the network, in words a commune officer can act on.

use std::net::SocketAddr;

use danvan_model::NodeId;

/// Why a network operation failed.
///
/// Messages are for the user: they name the address or node involved and,
/// where there is one, what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// A [`crate::NetConfig`] value is out of range.
    #[error("cấu hình mạng không hợp lệ: {0}")]
    Config(String),
    /// The UDP socket could not be opened on the requested address.
    #[error("không mở được cổng UDP {addr}: {source} (cổng đã bị chiếm hoặc địa chỉ sai?)")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The certificate or TLS configuration could not be built from the node key.
    #[error("không tạo được chứng chỉ TLS từ khóa của nút: {0}")]
    Certificate(String),
    /// Dialing or accepting failed before a verified connection existed.
    #[error("không kết nối được tới {addr}: {reason}")]
    Connect {
        /// The peer's address.
        addr: SocketAddr,
        /// What went wrong, as reported by the QUIC or TLS layer.
        reason: String,
    },
    /// A `HOST:PORT` whose name did not resolve (no DNS, a typo, no network).
    #[error(
        "không tìm thấy địa chỉ {addr} ({reason}): kiểm tra tên máy, mạng, \
         hoặc dùng địa chỉ IP:CỔNG"
    )]
    NotFound {
        /// The address as written.
        addr: String,
        /// What the resolver said.
        reason: String,
    },
    /// The handshake did not complete within `connect_timeout_ms`.
    #[error(
        "không kết nối được tới {addr}: quá {timeout_ms} ms không hoàn tất bắt tay \
         (kiểm tra mạng, địa chỉ và cổng)"
    )]
    ConnectTimeout {
        /// The peer's address.
        addr: SocketAddr,
        /// The limit that was reached.
        timeout_ms: u64,
    },
    /// The peer's key is valid but our trust list does not contain it.
    #[error(
        "nút {peer} (tại {addr}) không có trong danh sách tin cậy: đã từ chối kết nối; \
         nếu đây là nút của đơn vị, hãy thêm mã nút này vào danh sách"
    )]
    Untrusted {
        /// The refused node.
        peer: NodeId,
        /// Where it connected from or was dialed at.
        addr: SocketAddr,
    },
    /// We dialed a specific node and another (perhaps trusted) node answered.
    #[error(
        "nút trả lời tại {addr} là {actual}, không phải nút {expected} cần kết nối: \
         đã từ chối (kiểm tra lại địa chỉ)"
    )]
    UnexpectedPeer {
        /// The address dialed.
        addr: SocketAddr,
        /// The node we meant to reach.
        expected: NodeId,
        /// The node that answered.
        actual: NodeId,
    },
    /// The peer presented a certificate that does not carry an Ed25519 node key.
    #[error("nút tại {addr} gửi chứng chỉ không hợp lệ: {reason}")]
    BadCertificate {
        /// The peer's address.
        addr: SocketAddr,
        /// What is wrong with the certificate.
        reason: String,
    },
    /// The peer refused our key: we are not on its trust list (or not the node it wanted).
    #[error(
        "{addr} từ chối khóa của nút này ({us}): hãy nhờ bên kia thêm mã nút này vào \
         danh sách tin cậy, hoặc kiểm tra lại địa chỉ"
    )]
    RefusedByPeer {
        /// The peer's address.
        addr: SocketAddr,
        /// Our own node id, the one that was refused.
        us: NodeId,
    },
    /// The peer refused the connection because it has reached its connection limit.
    #[error("{addr} đang bận (đã đủ số kết nối đồng thời): hãy thử lại sau")]
    PeerBusy {
        /// The peer's address.
        addr: SocketAddr,
    },
    /// This endpoint already has `connections_max` connections.
    #[error("đã đạt giới hạn {connections_max} kết nối đồng thời: từ chối kết nối với {addr}")]
    TooManyConnections {
        /// The other side of the refused connection.
        addr: SocketAddr,
        /// The configured limit.
        connections_max: usize,
    },
    /// An established connection ended (closed by either side, timed out, or reset).
    #[error("mất kết nối với {addr}: {reason}")]
    ConnectionLost {
        /// The peer's address.
        addr: SocketAddr,
        /// Why, as far as is known.
        reason: String,
    },
    /// A frame is larger than `frame_bytes_max`; on receive, nothing of it was read.
    #[error("khung dữ liệu {len} byte vượt giới hạn {max} byte: đã từ chối")]
    FrameTooLarge {
        /// The length sent or announced by the length prefix.
        len: u64,
        /// The configured `frame_bytes_max`.
        max: usize,
    },
    /// The stream ended in the middle of a frame.
    #[error("luồng dữ liệu từ {addr} kết thúc giữa chừng một khung (bên kia bị ngắt?)")]
    Truncated {
        /// The peer's address.
        addr: SocketAddr,
    },
    /// The peer abandoned the stream (reset or stop) with an application code.
    #[error("{addr} đã hủy luồng dữ liệu (mã {code})")]
    StreamAborted {
        /// The peer's address.
        addr: SocketAddr,
        /// The application error code the peer gave.
        code: u64,
    },
    /// The endpoint has been closed; it accepts and dials nothing more.
    #[error("điểm kết nối mạng đã đóng")]
    EndpointClosed,
}

impl NetError {
    /// Whether trying again later may succeed: true for network trouble and a
    /// busy peer, false for refusals, bad configuration and protocol errors,
    /// which a retry would only repeat.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            NetError::Connect { .. }
                | NetError::NotFound { .. }
                | NetError::ConnectTimeout { .. }
                | NetError::PeerBusy { .. }
                | NetError::ConnectionLost { .. }
        )
    }
}

/// The peer's refusal, if that is how the connection ended: our key not
/// on its trust list (the TLS alert its verifier sends), or its connection
/// limit reached.
pub(crate) fn peer_refusal(
    addr: SocketAddr,
    us: NodeId,
    error: &quinn::ConnectionError,
) -> Option<NetError> {
    let access_denied =
        quinn::TransportErrorCode::crypto(u8::from(rustls::AlertDescription::AccessDenied));
    match error {
        quinn::ConnectionError::ConnectionClosed(close) if close.error_code == access_denied => {
            tracing::warn!(%addr, "bên kia từ chối khóa của nút này");
            Some(NetError::RefusedByPeer { addr, us })
        }
        quinn::ConnectionError::ConnectionClosed(close)
            if close.error_code == quinn::TransportErrorCode::CONNECTION_REFUSED =>
        {
            Some(NetError::PeerBusy { addr })
        }
        _ => None,
    }
}

/// The error for a connection that ended while in use. It lives here, not
/// with the endpoint, because the frame streams need it too and the endpoint
/// already depends on them. A connection dialled without waiting for the
/// peer's confirmation (`Endpoint::connect_early`) learns of a refusal of
/// our key only here, and reports it as `connect` would have.
pub(crate) fn connection_error(
    addr: SocketAddr,
    us: NodeId,
    error: quinn::ConnectionError,
) -> NetError {
    if let Some(refused) = peer_refusal(addr, us, &error) {
        return refused;
    }
    let reason = match error {
        quinn::ConnectionError::ApplicationClosed(close) => format!(
            "bên kia đã đóng kết nối ({})",
            String::from_utf8_lossy(&close.reason)
        ),
        quinn::ConnectionError::LocallyClosed => "kết nối đã bị đóng ở phía này".to_string(),
        quinn::ConnectionError::TimedOut => {
            "quá thời gian chờ: không nhận được gì từ bên kia".to_string()
        }
        quinn::ConnectionError::Reset => "bên kia đã khởi động lại hoặc quên kết nối".to_string(),
        other => other.to_string(),
    };
    NetError::ConnectionLost { addr, reason }
}
