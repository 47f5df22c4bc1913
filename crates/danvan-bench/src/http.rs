//! A minimal HTTP/1.1 client over one keep-alive TCP connection, enough to
//! time the web app's pages from outside the server: GET only, bodies by
//! `Content-Length` or chunked, everything bounded.

use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::BenchError;

/// The longest header section read: the app's headers are a few hundred bytes.
const HEADER_BYTES_MAX: usize = 64 * 1024;
/// The largest body read: the largest page is well under a megabyte.
const BODY_BYTES_MAX: usize = 16 * 1024 * 1024;

/// One response.
#[derive(Debug)]
pub(crate) struct Response {
    /// The status code.
    pub(crate) status: u16,
    /// The body.
    pub(crate) body: Vec<u8>,
    /// Bytes that came over the connection: status line, headers, body
    /// (with chunk framing).
    pub(crate) wire_bytes: usize,
}

impl Response {
    /// The body as text (lossy).
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A connection to one server.
pub(crate) struct Client {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
}

impl Client {
    /// A client of the server at `addr`; it connects at the first request.
    pub(crate) fn new(addr: SocketAddr) -> Client {
        Client { addr, conn: None }
    }

    /// GETs `path`, reusing the connection while the server keeps it open.
    pub(crate) async fn get(&mut self, path: &str) -> Result<Response, BenchError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let stream = TcpStream::connect(self.addr)
                    .await
                    .map_err(|e| format!("connect {}: {e}", self.addr))?;
                stream.set_nodelay(true)?;
                self.conn.insert(BufReader::new(stream))
            }
        };
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.addr);
        conn.get_mut().write_all(request.as_bytes()).await?;
        let (response, keep) = read_response(conn)
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        if !keep {
            self.conn = None;
        }
        Ok(response)
    }
}

/// Reads one response; true if the connection stays open after it.
async fn read_response(conn: &mut BufReader<TcpStream>) -> Result<(Response, bool), BenchError> {
    let mut wire_bytes = 0;
    let mut line = String::new();
    wire_bytes += read_line(conn, &mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP status line: {line:?}"))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut keep = true;
    loop {
        wire_bytes += read_line(conn, &mut line).await?;
        if wire_bytes > HEADER_BYTES_MAX {
            return Err(format!("headers longer than {HEADER_BYTES_MAX} bytes").into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = Some(value.parse()?),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => keep = !value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            wire_bytes += read_line(conn, &mut line).await?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|e| format!("bad chunk size {line:?}: {e}"))?;
            if body.len() + size > BODY_BYTES_MAX {
                return Err(format!("body longer than {BODY_BYTES_MAX} bytes").into());
            }
            let start = body.len();
            body.resize(start + size, 0);
            conn.read_exact(&mut body[start..]).await?;
            wire_bytes += size;
            // The CRLF after the chunk, or the end of the trailers.
            wire_bytes += read_line(conn, &mut line).await?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(length) = length {
        if length > BODY_BYTES_MAX {
            return Err(format!("body of {length} bytes, more than {BODY_BYTES_MAX}").into());
        }
        body.resize(length, 0);
        conn.read_exact(&mut body).await?;
        wire_bytes += length;
    } else {
        // No length: the body runs to the end of the connection.
        (&mut *conn)
            .take(BODY_BYTES_MAX as u64 + 1)
            .read_to_end(&mut body)
            .await?;
        wire_bytes += body.len();
        keep = false;
    }
    Ok((
        Response {
            status,
            body,
            wire_bytes,
        },
        keep,
    ))
}

/// Reads one line (with its CRLF) into `line`; its length in bytes.
async fn read_line(
    conn: &mut BufReader<TcpStream>,
    line: &mut String,
) -> Result<usize, BenchError> {
    line.clear();
    let n = (&mut *conn)
        .take(HEADER_BYTES_MAX as u64)
        .read_line(line)
        .await?;
    if n == 0 {
        return Err("the server closed the connection".into());
    }
    Ok(n)
}
