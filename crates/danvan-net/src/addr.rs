//! A peer's address as a person writes it: `IP:PORT` or `HOST:PORT` (a DNS
//! name, `localhost` included), resolved at each connection attempt so a
//! hub whose address changes behind its name is still found.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use crate::NetError;

/// The longest host name DNS allows (RFC 1035), plus room for a port.
const ADDR_CHARS_MAX: usize = 260;

/// `IP:PORT` or `HOST:PORT`, checked for form but not yet resolved.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PeerAddr(String);

impl PeerAddr {
    /// The address as written (what trust lists and invites store).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address itself when it is already `IP:PORT` (no lookup needed).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.0.parse().ok()
    }

    /// Resolves the address now. Of several answers, the first of the
    /// family asked for (`ipv6`: what the local socket speaks) is taken, else
    /// the first; `None` takes IPv4 first, since a name like `localhost`
    /// usually answers `::1` first while the peer may listen on IPv4 only.
    pub async fn resolve(&self, ipv6: Option<bool>) -> Result<SocketAddr, NetError> {
        if let Some(addr) = self.socket_addr() {
            return Ok(addr);
        }
        let not_found = |reason: String| NetError::NotFound {
            addr: self.0.clone(),
            reason,
        };
        let found: Vec<SocketAddr> = tokio::net::lookup_host(self.0.as_str())
            .await
            .map_err(|e| not_found(e.to_string()))?
            .collect();
        let want_v6 = ipv6.unwrap_or(false);
        found
            .iter()
            .find(|a| a.is_ipv6() == want_v6)
            .or(found.first())
            .copied()
            .ok_or_else(|| not_found("tên không có địa chỉ nào".to_string()))
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<SocketAddr> for PeerAddr {
    fn from(addr: SocketAddr) -> PeerAddr {
        PeerAddr(addr.to_string())
    }
}

impl From<&PeerAddr> for PeerAddr {
    fn from(addr: &PeerAddr) -> PeerAddr {
        addr.clone()
    }
}

/// Why a written address is not `HOST:PORT`.
#[derive(Debug, thiserror::Error)]
#[error(
    "địa chỉ {0:?} không đúng dạng IP:CỔNG hoặc TÊN-MÁY:CỔNG (ví dụ 192.168.1.20:7420 hoặc tram.ducpho.vn:7420)"
)]
pub struct BadPeerAddr(pub String);

impl FromStr for PeerAddr {
    type Err = BadPeerAddr;

    fn from_str(text: &str) -> Result<PeerAddr, BadPeerAddr> {
        let text = text.trim();
        let bad = || BadPeerAddr(text.to_string());
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(PeerAddr(addr.to_string()));
        }
        if text.len() > ADDR_CHARS_MAX {
            return Err(bad());
        }
        let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
        port.parse::<u16>().map_err(|_| bad())?;
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        let host = host.strip_suffix('.').unwrap_or(host);
        if host.is_empty() || !host.split('.').all(label_ok) {
            return Err(bad());
        }
        Ok(PeerAddr(format!("{}:{port}", host.to_ascii_lowercase())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_ip_or_host_with_port() {
        for good in [
            "127.0.0.1:7420",
            "[::1]:7420",
            "localhost:7420",
            "tram.ducpho.vn:7420",
            "Tram-1.local:1",
        ] {
            assert!(good.parse::<PeerAddr>().is_ok(), "{good}");
        }
        assert_eq!(
            "Tram.Local:7420".parse::<PeerAddr>().unwrap().as_str(),
            "tram.local:7420"
        );
        for bad in [
            "",
            "localhost",
            "localhost:",
            "localhost:99999",
            ":7420",
            "trạm:7420",
            "a b:7420",
            "-x:7420",
            "x..y:7420",
            "http://x:7420",
        ] {
            let err = bad.parse::<PeerAddr>().unwrap_err();
            assert!(err.to_string().contains("không đúng dạng"), "{bad}");
        }
    }

    #[tokio::test]
    async fn names_resolve_at_each_attempt_and_unknown_ones_say_so() {
        let local: PeerAddr = "localhost:7420".parse().unwrap();
        let v4 = local.resolve(None).await.unwrap();
        assert!(v4.ip().is_loopback() && v4.is_ipv4() && v4.port() == 7420);
        let missing: PeerAddr = "khong-co-may-nay.invalid:7420".parse().unwrap();
        let err = missing.resolve(None).await.unwrap_err();
        assert!(matches!(err, NetError::NotFound { .. }));
        assert!(
            err.to_string().starts_with("không tìm thấy địa chỉ"),
            "{err}"
        );
    }
}
