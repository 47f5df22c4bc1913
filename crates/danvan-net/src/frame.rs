//! Length-prefixed frames on one QUIC bidirectional stream.
//!
//! A frame on the wire is a `u32` big-endian length followed by that many
//! bytes. The length is checked against `frame_bytes_max` before anything is
//! allocated for the body, so a hostile or corrupt prefix costs four bytes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use danvan_model::NodeId;

use crate::NetError;
use crate::error::connection_error;

/// Application code with which a receiver stops a stream whose peer announced
/// an oversized frame, so the sender learns why its writes fail.
pub(crate) const STOP_FRAME_TOO_LARGE: u32 = 1;

/// Bytes of the length prefix.
const PREFIX_BYTES: usize = 4;

/// Bytes of a frame copied to go in one write with its length prefix: a
/// whole packet's worth, so that every small frame (a Hello, an Ack) is one
/// write and a long one is copied no further than its first packet.
const HEAD_BYTES_MAX: usize = 1200;

/// Application bytes (frame bodies, without length prefixes) that crossed one
/// connection, for benchmarks and the sync log.
#[derive(Debug, Default)]
pub(crate) struct ByteCounters {
    pub(crate) sent: AtomicU64,
    pub(crate) received: AtomicU64,
}

/// What a stream half needs to know about its connection.
#[derive(Clone)]
pub(crate) struct StreamContext {
    pub(crate) addr: SocketAddr,
    /// This node's id, for the error if the peer turns out to refuse it.
    pub(crate) us: NodeId,
    pub(crate) frame_bytes_max: usize,
    pub(crate) counters: Arc<ByteCounters>,
}

/// Checks an announced or requested frame length against the limit.
fn check_len(len: u64, max: usize) -> Result<usize, NetError> {
    match usize::try_from(len) {
        Ok(len) if len <= max => Ok(len),
        _ => Err(NetError::FrameTooLarge { len, max }),
    }
}

/// What both halves of a framed stream have alike: they are made from a
/// quinn stream and their connection's context, and print only the peer's
/// address.
macro_rules! stream_half {
    ($half:ident, $stream:ty) => {
        impl $half {
            pub(crate) fn new(stream: $stream, context: StreamContext) -> Self {
                $half { stream, context }
            }
        }

        impl std::fmt::Debug for $half {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($half))
                    .field("addr", &self.context.addr)
                    .finish_non_exhaustive()
            }
        }
    };
}

stream_half!(FrameSender, quinn::SendStream);
stream_half!(FrameReceiver, quinn::RecvStream);

/// The sending half of a framed stream.
pub struct FrameSender {
    stream: quinn::SendStream,
    context: StreamContext,
}

impl FrameSender {
    /// Sends one frame. A frame longer than `frame_bytes_max` is refused here,
    /// before anything is written, since the peer would refuse it anyway.
    pub async fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        let len = check_len(frame.len() as u64, self.context.frame_bytes_max)?;
        // check_len bounds len by frame_bytes_max, which NetConfig keeps within u32.
        let prefix = u32::try_from(len)
            .map_err(|_| NetError::FrameTooLarge {
                len: len as u64,
                max: self.context.frame_bytes_max,
            })?
            .to_be_bytes();
        // The prefix and the frame's start go in one write: written apart,
        // the connection may send the 4-byte prefix in a packet of its own
        // (32 bytes on the wire for 4), which it did for about half of the
        // idle check-ins measured (ARCHITECTURE.md, Decisions). The rest of
        // a long frame is written from where it lies, without a copy.
        let (head, rest) = frame.split_at(frame.len().min(HEAD_BYTES_MAX));
        let mut first = Vec::with_capacity(PREFIX_BYTES + head.len());
        first.extend_from_slice(&prefix);
        first.extend_from_slice(head);
        self.write(&first).await?;
        if !rest.is_empty() {
            self.write(rest).await?;
        }
        self.context
            .counters
            .sent
            .fetch_add(len as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Ends the stream after the frames already sent: the peer's
    /// [`FrameReceiver::recv`] returns `None` once it has read them all.
    pub fn finish(mut self) -> Result<(), NetError> {
        self.stream.finish().map_err(|_| NetError::ConnectionLost {
            addr: self.context.addr,
            reason: "luồng dữ liệu đã đóng".to_string(),
        })
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), NetError> {
        let addr = self.context.addr;
        self.stream.write_all(bytes).await.map_err(|e| match e {
            quinn::WriteError::Stopped(code) => NetError::StreamAborted {
                addr,
                code: code.into_inner(),
            },
            quinn::WriteError::ConnectionLost(e) => connection_error(addr, self.context.us, e),
            other => NetError::ConnectionLost {
                addr,
                reason: other.to_string(),
            },
        })
    }
}

/// The receiving half of a framed stream.
pub struct FrameReceiver {
    stream: quinn::RecvStream,
    context: StreamContext,
}

impl FrameReceiver {
    /// Receives the next frame, or `None` when the peer finished the stream
    /// cleanly between frames. A stream that ends inside a frame, a lost
    /// connection and an oversized length prefix are errors.
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, NetError> {
        let mut prefix = [0u8; PREFIX_BYTES];
        match self.stream.read_exact(&mut prefix).await {
            Ok(()) => {}
            Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
            Err(e) => return Err(self.read_error(e)),
        }
        let announced = u64::from(u32::from_be_bytes(prefix));
        let len = match check_len(announced, self.context.frame_bytes_max) {
            Ok(len) => len,
            Err(e) => {
                tracing::warn!(addr = %self.context.addr, len = announced, "khung quá lớn: dừng luồng");
                // The rest of the stream cannot be parsed any more; tell the sender.
                let _ = self
                    .stream
                    .stop(quinn::VarInt::from_u32(STOP_FRAME_TOO_LARGE));
                return Err(e);
            }
        };
        let mut body = vec![0u8; len];
        self.stream
            .read_exact(&mut body)
            .await
            .map_err(|e| self.read_error(e))?;
        self.context
            .counters
            .received
            .fetch_add(len as u64, Ordering::Relaxed);
        Ok(Some(body))
    }

    fn read_error(&self, e: quinn::ReadExactError) -> NetError {
        let addr = self.context.addr;
        match e {
            quinn::ReadExactError::FinishedEarly(_) => NetError::Truncated { addr },
            quinn::ReadExactError::ReadError(quinn::ReadError::Reset(code)) => {
                NetError::StreamAborted {
                    addr,
                    code: code.into_inner(),
                }
            }
            quinn::ReadExactError::ReadError(quinn::ReadError::ConnectionLost(e)) => {
                connection_error(addr, self.context.us, e)
            }
            quinn::ReadExactError::ReadError(other) => NetError::ConnectionLost {
                addr,
                reason: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_up_to_the_limit_pass_and_beyond_it_fail() {
        assert_eq!(check_len(0, 10).unwrap(), 0);
        assert_eq!(check_len(10, 10).unwrap(), 10);
        assert!(matches!(
            check_len(11, 10),
            Err(NetError::FrameTooLarge { len: 11, max: 10 })
        ));
        assert!(matches!(
            check_len(u64::from(u32::MAX), 4 << 20),
            Err(NetError::FrameTooLarge { .. })
        ));
    }
}
