//! The relay: a UDP socket clients dial instead of the upstream, and one
//! upstream socket per client source address, with a [`Link`] between them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::link::{Drop, Fate, Link, LinkProfile};

/// Clients (source addresses) one relay serves at once. A load test dials
/// through it with a few hundred nodes; the bound keeps a stray sender from
/// making it open sockets without end.
pub const CLIENTS_MAX: usize = 1024;

/// Datagrams in flight on one direction of one client's link (sent, not yet
/// delivered). 800 ms of a 1 Mbit/s link holds about 70 full datagrams; the
/// bound only matters for a profile with no bandwidth cap.
const IN_FLIGHT_MAX: usize = 4096;

/// Largest UDP payload relayed; QUIC never sends more than this.
const DATAGRAM_BYTES_MAX: usize = 65_535;

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The listening socket could not be bound.
    #[error("không mở được cổng UDP {addr} cho trạm chuyển tiếp: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Counters of one direction, summed over every client.
#[derive(Debug, Default)]
struct DirectionStats {
    /// Datagrams that entered the link.
    sent_packets: AtomicU64,
    /// Bytes that entered the link.
    sent_bytes: AtomicU64,
    /// Datagrams delivered at the far end.
    delivered_packets: AtomicU64,
    /// Bytes delivered at the far end.
    delivered_bytes: AtomicU64,
    /// Datagrams dropped during an outage.
    dropped_outage: AtomicU64,
    /// Datagrams dropped because the queue was full.
    dropped_queue: AtomicU64,
    /// Bytes the link model dropped at its full queue: they entered the
    /// relay but never took the link's airtime. (A datagram the delay line
    /// had no room for is counted in `dropped_queue` but not here: it had
    /// taken its airtime.)
    dropped_queue_bytes: AtomicU64,
    /// Datagrams lost at random.
    dropped_loss: AtomicU64,
}

/// A copy of [`DirectionStats`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirectionFigures {
    /// Datagrams that entered the link.
    pub sent_packets: u64,
    /// Bytes that entered the link.
    pub sent_bytes: u64,
    /// Datagrams delivered at the far end.
    pub delivered_packets: u64,
    /// Bytes delivered at the far end.
    pub delivered_bytes: u64,
    /// Datagrams dropped during an outage.
    pub dropped_outage: u64,
    /// Datagrams dropped because the queue was full.
    pub dropped_queue: u64,
    /// Bytes the link model dropped at its full queue: they entered the
    /// relay but never took the link's airtime. (A datagram the delay line
    /// had no room for is counted in `dropped_queue` but not here: it had
    /// taken its airtime.)
    pub dropped_queue_bytes: u64,
    /// Datagrams lost at random.
    pub dropped_loss: u64,
}

impl DirectionStats {
    fn figures(&self) -> DirectionFigures {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        DirectionFigures {
            sent_packets: get(&self.sent_packets),
            sent_bytes: get(&self.sent_bytes),
            delivered_packets: get(&self.delivered_packets),
            delivered_bytes: get(&self.delivered_bytes),
            dropped_outage: get(&self.dropped_outage),
            dropped_queue: get(&self.dropped_queue),
            dropped_queue_bytes: get(&self.dropped_queue_bytes),
            dropped_loss: get(&self.dropped_loss),
        }
    }

    fn count(&self, bytes: usize, fate: Fate) {
        self.sent_packets.fetch_add(1, Ordering::Relaxed);
        self.sent_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        let counter = match fate {
            Fate::Deliver { .. } => return,
            Fate::Dropped(Drop::Outage) => &self.dropped_outage,
            Fate::Dropped(Drop::QueueFull) => {
                self.dropped_queue_bytes
                    .fetch_add(bytes as u64, Ordering::Relaxed);
                &self.dropped_queue
            }
            Fate::Dropped(Drop::Loss) => &self.dropped_loss,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn delivered(&self, bytes: usize) {
        self.delivered_packets.fetch_add(1, Ordering::Relaxed);
        self.delivered_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// Figures of a relay at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayFigures {
    /// Client towards upstream.
    pub up: DirectionFigures,
    /// Upstream towards client.
    pub down: DirectionFigures,
    /// Clients seen.
    pub clients: u64,
    /// Outages begun so far.
    pub outages_started: u32,
}

impl std::fmt::Display for RelayFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = |f: &mut std::fmt::Formatter<'_>, name: &str, x: &DirectionFigures| {
            write!(
                f,
                "{name}: {} gói/{} byte vào, {} gói/{} byte tới; mất {} do mất sóng, {} do đầy hàng đợi, {} ngẫu nhiên",
                x.sent_packets,
                x.sent_bytes,
                x.delivered_packets,
                x.delivered_bytes,
                x.dropped_outage,
                x.dropped_queue,
                x.dropped_loss
            )
        };
        d(f, "lên", &self.up)?;
        write!(f, "; ")?;
        d(f, "xuống", &self.down)?;
        write!(
            f,
            "; {} máy khách, {} lần mất sóng",
            self.clients, self.outages_started
        )
    }
}

#[derive(Debug)]
struct Shared {
    up: DirectionStats,
    down: DirectionStats,
    clients: AtomicU64,
}

/// A running relay. Dropping it stops every task it started.
#[derive(Debug)]
pub struct Relay {
    addr: SocketAddr,
    stats: Arc<Shared>,
    profile: LinkProfile,
    started: Instant,
    // Owns the accept loop, which owns the per-client tasks.
    _tasks: JoinSet<()>,
}

impl Relay {
    /// Binds `listen` and relays every client to `upstream` through a link of
    /// `profile`, seeded with `seed`. Must run inside a tokio runtime.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        profile: LinkProfile,
        seed: u64,
    ) -> Result<Relay, RelayError> {
        let socket = UdpSocket::bind(listen)
            .await
            .map_err(|source| RelayError::Bind {
                addr: listen,
                source,
            })?;
        let addr = socket.local_addr().map_err(|source| RelayError::Bind {
            addr: listen,
            source,
        })?;
        let stats = Arc::new(Shared {
            up: DirectionStats::default(),
            down: DirectionStats::default(),
            clients: AtomicU64::new(0),
        });
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        tasks.spawn(listen_loop(
            Arc::new(socket),
            upstream,
            profile,
            seed,
            started,
            stats.clone(),
        ));
        Ok(Relay {
            addr,
            stats,
            profile,
            started,
            _tasks: tasks,
        })
    }

    /// The address clients dial.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The figures so far.
    pub fn figures(&self) -> RelayFigures {
        let s = &self.stats;
        let now_us = self.started.elapsed().as_micros() as u64;
        RelayFigures {
            up: s.up.figures(),
            down: s.down.figures(),
            clients: s.clients.load(Ordering::Relaxed),
            outages_started: self.profile.outages.map_or(0, |o| o.started(now_us)),
        }
    }

    /// Whether the link is up now (outside a scheduled outage).
    pub fn is_up(&self) -> bool {
        let now_us = self.started.elapsed().as_micros() as u64;
        self.profile.outages.is_none_or(|o| o.is_up(now_us))
    }
}

fn now_us(started: Instant) -> u64 {
    started.elapsed().as_micros() as u64
}

/// A delay line: delivers datagrams at their arrival times, in order.
/// Arrival times of one direction never go backwards (the link is FIFO), so
/// sleeping until each in turn is exact.
/// A datagram that cannot be sent is lost like any other; one that is sent
/// counts as delivered in `direction`'s figures.
async fn deliver(
    mut line: mpsc::Receiver<(u64, Vec<u8>)>,
    started: Instant,
    to: Destination,
    stats: Arc<Shared>,
    direction: fn(&Shared) -> &DirectionStats,
) {
    while let Some((at_us, datagram)) = line.recv().await {
        tokio::time::sleep_until((started + Duration::from_micros(at_us)).into()).await;
        let sent = match &to {
            Destination::Upstream(socket) => socket.send(&datagram).await,
            Destination::Client(socket, client) => socket.send_to(&datagram, *client).await,
        };
        if sent.is_ok() {
            direction(&stats).delivered(datagram.len());
        }
    }
}

/// Where a delay line delivers.
enum Destination {
    /// The upstream, through the client's own socket connected to it.
    Upstream(Arc<UdpSocket>),
    /// The client, through the listening socket.
    Client(Arc<UdpSocket>, SocketAddr),
}

struct Client {
    link: Arc<std::sync::Mutex<Link>>,
    up_line: mpsc::Sender<(u64, Vec<u8>)>,
}

async fn listen_loop(
    socket: Arc<UdpSocket>,
    upstream: SocketAddr,
    profile: LinkProfile,
    seed: u64,
    started: Instant,
    stats: Arc<Shared>,
) {
    let mut clients: HashMap<SocketAddr, Client> = HashMap::new();
    // Owns every per-client task; dropped (aborting them) with this loop.
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut buf = vec![0u8; DATAGRAM_BYTES_MAX];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            // ICMP errors surface here on some systems; they end nothing.
            continue;
        };
        if !clients.contains_key(&from) {
            if clients.len() >= CLIENTS_MAX {
                continue;
            }
            let Some(client) = new_client(
                &socket, from, upstream, &profile, seed, started, &stats, &mut tasks,
            )
            .await
            else {
                continue;
            };
            clients.insert(from, client);
        }
        let client = &clients[&from];
        let now = now_us(started);
        let fate = client
            .link
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .up
            .send(now, len);
        stats.up.count(len, fate);
        if let Fate::Deliver { at_us } = fate
            && client
                .up_line
                .try_send((at_us, buf[..len].to_vec()))
                .is_err()
        {
            stats.up.dropped_queue.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn new_client(
    socket: &Arc<UdpSocket>,
    from: SocketAddr,
    upstream: SocketAddr,
    profile: &LinkProfile,
    seed: u64,
    started: Instant,
    stats: &Arc<Shared>,
    tasks: &mut JoinSet<()>,
) -> Option<Client> {
    let bind: SocketAddr = if upstream.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    }
    .parse()
    .ok()?;
    let up_socket = Arc::new(UdpSocket::bind(bind).await.ok()?);
    up_socket.connect(upstream).await.ok()?;
    let index = stats.clients.fetch_add(1, Ordering::Relaxed);
    // Each client's link draws from its own stream, fixed by the seed and the
    // order clients appeared in.
    let link = Arc::new(std::sync::Mutex::new(Link::new(
        profile,
        seed.wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
    )));
    let (up_line, up_rx) = mpsc::channel(IN_FLIGHT_MAX);
    let (down_line, down_rx) = mpsc::channel::<(u64, Vec<u8>)>(IN_FLIGHT_MAX);
    let to_upstream = Destination::Upstream(up_socket.clone());
    tasks.spawn(deliver(up_rx, started, to_upstream, stats.clone(), |s| {
        &s.up
    }));
    let to_client = Destination::Client(socket.clone(), from);
    tasks.spawn(deliver(down_rx, started, to_client, stats.clone(), |s| {
        &s.down
    }));
    {
        let up_socket = up_socket.clone();
        let link = link.clone();
        let stats = stats.clone();
        tasks.spawn(async move {
            let mut buf = vec![0u8; DATAGRAM_BYTES_MAX];
            loop {
                let Ok(len) = up_socket.recv(&mut buf).await else {
                    // The upstream is gone for now (ICMP port unreachable
                    // while a hub restarts): keep listening.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let fate = link
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .down
                    .send(now_us(started), len);
                stats.down.count(len, fate);
                if let Fate::Deliver { at_us } = fate
                    && down_line.try_send((at_us, buf[..len].to_vec())).is_err()
                {
                    stats.down.dropped_queue.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    Some(Client { link, up_line })
}
