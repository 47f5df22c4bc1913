//! End-to-end tests over real QUIC on 127.0.0.1.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use danvan_model::{NodeId, NodeKey};

use crate::{
    Backoff, Connection, Endpoint, FrameReceiver, FrameSender, NetConfig, NetError, TrustFn, cert,
};

/// Any test that has to wait longer than this is hanging.
const HANG: Duration = Duration::from_secs(10);

fn key(seed: u8) -> NodeKey {
    NodeKey::from_secret([seed; 32])
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn trusting(ids: &[NodeId]) -> TrustFn {
    let ids: HashSet<NodeId> = ids.iter().copied().collect();
    Arc::new(move |id| ids.contains(id))
}

fn endpoint(key: &NodeKey, trust: TrustFn, config: NetConfig) -> Endpoint {
    Endpoint::bind(key, loopback(), trust, config).unwrap()
}

/// Dials `server` from `client` while `server` accepts, and returns both
/// outcomes: (dialer's, acceptor's).
async fn handshake(
    client: &Endpoint,
    server: &Endpoint,
    expected: Option<NodeId>,
) -> (Result<Connection, NetError>, Result<Connection, NetError>) {
    let (dialed, accepted) = tokio::time::timeout(HANG, async {
        tokio::join!(client.connect(server.local_addr(), expected), async {
            server.accept().await.expect("endpoint open")
        })
    })
    .await
    .expect("handshake hung");
    (dialed, accepted)
}

/// Two nodes that trust each other, connected: (dialer side, acceptor side).
async fn pair(config: NetConfig) -> (Endpoint, Endpoint, Connection, Connection) {
    let (a, b) = (key(1), key(2));
    let trust = trusting(&[a.id(), b.id()]);
    let client = endpoint(&a, trust.clone(), config.clone());
    let server = endpoint(&b, trust, config);
    let (dialed, accepted) = handshake(&client, &server, Some(b.id())).await;
    (client, server, dialed.unwrap(), accepted.unwrap())
}

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(HANG, future).await.expect("hung")
}

#[test]
fn certificate_carries_the_node_key_itself() {
    let node = key(9);
    let certificate = cert::certificate(&node).unwrap();
    assert_eq!(cert::node_id(&certificate).unwrap(), node.id());
    // Deterministic in the key: another key gives another id.
    let other = cert::certificate(&key(10)).unwrap();
    assert_ne!(cert::node_id(&other).unwrap(), node.id());
}

#[tokio::test]
async fn trusted_nodes_exchange_frames_both_ways() {
    let (_client, _server, dialed, accepted) = pair(NetConfig::default()).await;
    assert_eq!(dialed.peer(), key(2).id());
    assert_eq!(accepted.peer(), key(1).id());

    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let (mut to_server, mut from_server) = dialed.open_stream().await.unwrap();
    to_server.send("xin chào".as_bytes()).await.unwrap();
    to_server.send(&big).await.unwrap();
    to_server.send(&[]).await.unwrap();
    to_server.finish().unwrap();

    let (mut to_client, mut from_client) = within(accepted.accept_stream()).await.unwrap();
    assert_eq!(
        within(from_client.recv()).await.unwrap().unwrap(),
        "xin chào".as_bytes()
    );
    assert_eq!(within(from_client.recv()).await.unwrap().unwrap(), big);
    assert_eq!(within(from_client.recv()).await.unwrap().unwrap(), b"");
    assert_eq!(within(from_client.recv()).await.unwrap(), None);

    to_client.send(b"da nhan").await.unwrap();
    to_client.finish().unwrap();
    assert_eq!(
        within(from_server.recv()).await.unwrap().unwrap(),
        b"da nhan"
    );
    assert_eq!(within(from_server.recv()).await.unwrap(), None);

    let sent = ("xin chào".len() + big.len()) as u64;
    assert_eq!(dialed.app_bytes(), (sent, 7));
    assert_eq!(accepted.app_bytes(), (7, sent));
    assert!(dialed.stats().udp_tx.bytes > sent);
}

/// How a handshake from `client` to `server` ends, as [`outcome`] says it.
async fn handshake_outcome(
    client: &Endpoint,
    server: &Endpoint,
    expected: Option<NodeId>,
) -> String {
    let (dialed, accepted) = handshake(client, server, expected).await;
    outcome(&dialed, &accepted)
}

/// A stream `dialed` opened and wrote raw bytes on, bypassing the framing
/// (a hostile or broken sender), and the framed stream `accepted` sees.
struct RawStream {
    raw: quinn::SendStream,
    _raw_recv: quinn::RecvStream,
    _to_client: FrameSender,
    from_client: FrameReceiver,
}

/// Opens a raw stream, writes `bytes` (then finishes it if `finish`), and
/// accepts it on the other side.
async fn raw_stream(
    dialed: &Connection,
    accepted: &Connection,
    bytes: &[&[u8]],
    finish: bool,
) -> RawStream {
    let (mut raw, _raw_recv) = dialed.quic().open_bi().await.unwrap();
    for part in bytes {
        raw.write_all(part).await.unwrap();
    }
    if finish {
        raw.finish().unwrap();
    }
    let (_to_client, from_client) = within(accepted.accept_stream()).await.unwrap();
    RawStream {
        raw,
        _raw_recv,
        _to_client,
        from_client,
    }
}

/// How a handshake ended on each side, as the tests compare it ("the
/// dialer's | the acceptor's"), naming the test keys by their seed.
fn outcome(
    dialed: &Result<Connection, NetError>,
    accepted: &Result<Connection, NetError>,
) -> String {
    let seed = |id: &NodeId| (1..=3).find(|&seed| key(seed).id() == *id).unwrap_or(0);
    let side = |result: &Result<Connection, NetError>| match result {
        Ok(_) => "connected".to_string(),
        Err(NetError::RefusedByPeer { us, .. }) => format!("refused-by-peer {}", seed(us)),
        Err(NetError::Untrusted { peer, .. }) => format!("untrusted {}", seed(peer)),
        Err(NetError::UnexpectedPeer {
            expected, actual, ..
        }) => format!("unexpected {} for {}", seed(actual), seed(expected)),
        Err(NetError::PeerBusy { .. }) => "peer-busy".to_string(),
        Err(NetError::TooManyConnections {
            connections_max, ..
        }) => format!("too-many-connections {connections_max}"),
        Err(other) => format!("{other:?}"),
    };
    format!("{} | {}", side(dialed), side(accepted))
}

/// Whom the client trusts, whom the server trusts, the node dialed, how the
/// handshake ends ([`outcome`]) and the node both errors name, keys by seed.
type RefusalCase = (&'static [u8], &'static [u8], Option<u8>, &'static str, u8);

/// A handshake with a node that is not trusted, or not the one dialed, fails
/// on both sides, each error naming the refused node.
#[tokio::test]
async fn untrusted_and_unexpected_peers_are_refused_on_both_sides() {
    // The client's key is seed 1, the server's 2.
    let cases: [RefusalCase; 3] = [
        // The server does not trust the client.
        (&[2], &[3], Some(2), "refused-by-peer 1 | untrusted 1", 1),
        // The client does not trust the server.
        (&[3], &[1], None, "untrusted 2 | refused-by-peer 2", 2),
        // The server is trusted but is not the node dialed.
        (
            &[1, 2, 3],
            &[1, 2, 3],
            Some(3),
            "unexpected 2 for 3 | refused-by-peer 2",
            2,
        ),
    ];
    for (client_trusts, server_trusts, dialed, expected, refused) in cases {
        let trust =
            |seeds: &[u8]| trusting(&seeds.iter().map(|&s| key(s).id()).collect::<Vec<_>>());
        let client = endpoint(&key(1), trust(client_trusts), NetConfig::default());
        let server = endpoint(&key(2), trust(server_trusts), NetConfig::default());
        let (dialer, acceptor) = handshake(&client, &server, dialed.map(|s| key(s).id())).await;
        assert_eq!(outcome(&dialer, &acceptor), expected);
        for error in [dialer.unwrap_err(), acceptor.unwrap_err()] {
            let message = error.to_string();
            assert!(
                message.contains(&key(refused).id().to_string()),
                "{message}"
            );
        }
    }
}

#[tokio::test]
async fn trust_is_asked_again_at_every_connection() {
    let (a, b) = (key(1), key(2));
    let allowed = Arc::new(Mutex::new(HashSet::from([a.id(), b.id()])));
    let trust: TrustFn = {
        let allowed = allowed.clone();
        Arc::new(move |id| allowed.lock().unwrap().contains(id))
    };
    let client = endpoint(&a, trusting(&[b.id()]), NetConfig::default());
    let server = endpoint(&b, trust, NetConfig::default());
    let (dialed, accepted) = handshake(&client, &server, None).await;
    assert_eq!(outcome(&dialed, &accepted), "connected | connected");

    // Revoking the client refuses its next connection, even from the same
    // endpoint that was just let in.
    allowed.lock().unwrap().remove(&a.id());
    assert_eq!(
        handshake_outcome(&client, &server, None).await,
        "refused-by-peer 1 | untrusted 1"
    );
}

#[tokio::test]
async fn a_stolen_certificate_without_its_key_fails_the_handshake() {
    // The impostor presents the victim's (public) certificate but can only
    // sign with its own key. Pinning the victim's id must not let it in: the
    // TLS 1.3 CertificateVerify signature is checked against the certificate.
    let (victim, impostor, server_key) = (key(1), key(66), key(2));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let stolen = cert::certificate(&victim).unwrap();
    let forged = cert::certified_key_from_parts(stolen, &impostor, &provider).unwrap();
    let client = Endpoint::bind_identity(
        victim.id(),
        forged,
        provider,
        loopback(),
        trusting(&[server_key.id()]),
        NetConfig::default(),
    )
    .unwrap();
    let server = endpoint(&server_key, trusting(&[victim.id()]), NetConfig::default());
    let (dialed, accepted) = handshake(&client, &server, Some(server_key.id())).await;
    assert!(
        dialed.is_err(),
        "impostor got in: {:?}",
        dialed.map(|c| c.peer())
    );
    assert!(
        matches!(&accepted, Err(NetError::Connect { .. })),
        "{:?}",
        accepted.map(|c| c.peer())
    );
}

#[tokio::test]
async fn an_oversized_length_prefix_is_refused_before_reading_a_body() {
    let config = NetConfig {
        frame_bytes_max: 1024,
        ..NetConfig::default()
    };
    let (_client, _server, dialed, accepted) = pair(config).await;

    // The sender refuses locally, before writing anything.
    let (mut sender, _receiver) = dialed.open_stream().await.unwrap();
    let refused = sender.send(&[0; 1025]).await;
    assert!(matches!(
        refused,
        Err(NetError::FrameTooLarge {
            len: 1025,
            max: 1024
        })
    ));
    assert_eq!(dialed.app_bytes().0, 0);
    sender.finish().unwrap();
    let (_to_client, mut from_client) = within(accepted.accept_stream()).await.unwrap();
    assert_eq!(
        within(from_client.recv()).await.unwrap(),
        None,
        "refused frame went out"
    );

    // A hostile peer announces 4 GiB and sends nothing more. The receiver
    // must answer from the prefix alone: were it to allocate and read the
    // body, it would wait forever and this test would time out.
    let mut stream = raw_stream(&dialed, &accepted, &[&u32::MAX.to_be_bytes()], false).await;
    let received = within(stream.from_client.recv()).await;
    assert!(
        matches!(received, Err(NetError::FrameTooLarge { len, max: 1024 }) if len == u64::from(u32::MAX)),
        "{received:?}"
    );
    // The receiver stopped the stream, so the hostile sender learns it too.
    let stopped = within(stream.raw.stopped()).await;
    assert_eq!(
        stopped.unwrap(),
        Some(quinn::VarInt::from_u32(crate::frame::STOP_FRAME_TOO_LARGE))
    );

    // One byte over the limit is refused the same way.
    let mut stream = raw_stream(&dialed, &accepted, &[&1025u32.to_be_bytes()], false).await;
    let received = within(stream.from_client.recv()).await;
    assert!(
        matches!(received, Err(NetError::FrameTooLarge { len: 1025, .. })),
        "{received:?}"
    );
}

#[tokio::test]
async fn a_frame_of_exactly_the_default_maximum_passes() {
    let max = NetConfig::default().frame_bytes_max;
    let (_client, _server, dialed, accepted) = pair(NetConfig::default()).await;
    let frame: Vec<u8> = (0..max).map(|i| (i % 253) as u8).collect();
    let (mut sender, _receiver) = dialed.open_stream().await.unwrap();
    let send = async {
        sender.send(&frame).await.unwrap();
        sender.finish().unwrap();
    };
    let receive = async {
        let (_to_client, mut from_client) = accepted.accept_stream().await.unwrap();
        let first = from_client.recv().await.unwrap().unwrap();
        (first, from_client.recv().await.unwrap())
    };
    let ((), (first, end)) = within(async { tokio::join!(send, receive) }).await;
    assert!(first == frame, "frame changed in transit");
    assert_eq!(end, None);
    assert_eq!(accepted.app_bytes().1, max as u64);
}

#[tokio::test]
async fn a_connection_closed_mid_frame_is_an_error_not_a_hang() {
    let (_client, _server, dialed, accepted) = pair(NetConfig::default()).await;
    let body_start: &[&[u8]] = &[&1000u32.to_be_bytes(), &[7; 10]];
    let mut stream = raw_stream(&dialed, &accepted, body_start, false).await;
    dialed.close("mất điện");
    let received = within(stream.from_client.recv()).await;
    assert!(
        matches!(&received, Err(NetError::ConnectionLost { reason, .. }) if reason.contains("mất điện")),
        "{received:?}"
    );
}

#[tokio::test]
async fn a_stream_finished_mid_frame_is_truncated_not_a_clean_end() {
    let (_client, _server, dialed, accepted) = pair(NetConfig::default()).await;
    let inside_the_body: &[&[u8]] = &[&1000u32.to_be_bytes(), &[7; 10]];
    let inside_the_length_prefix: &[&[u8]] = &[&[0, 0]];
    for bytes in [inside_the_body, inside_the_length_prefix] {
        let mut stream = raw_stream(&dialed, &accepted, bytes, true).await;
        let received = within(stream.from_client.recv()).await;
        assert!(
            matches!(received, Err(NetError::Truncated { .. })),
            "{received:?}"
        );
    }
}

/// An early dial writes its first frame before the peer has confirmed the
/// handshake: to a peer that trusts it the frame arrives; a peer that does
/// not trust it reads nothing of it, and the dialer's stream fails with the
/// same refusal `connect` reports.
#[tokio::test]
async fn an_early_dial_sends_at_once_and_learns_a_refusal_on_its_stream() {
    let (a, b) = (key(1), key(2));
    let client = endpoint(&a, trusting(&[b.id()]), NetConfig::default());
    let server = endpoint(&b, trusting(&[a.id()]), NetConfig::default());
    let (dialed, accepted) = within(async {
        tokio::join!(
            client.connect_early(server.local_addr(), Some(b.id())),
            async { server.accept().await.expect("endpoint open") }
        )
    })
    .await;
    let (dialed, accepted) = (dialed.unwrap(), accepted.unwrap());
    let (mut tx, _rx) = dialed.open_stream().await.unwrap();
    tx.send(b"xin chao").await.unwrap();
    let (_, mut from_client) = within(accepted.accept_stream()).await.unwrap();
    assert_eq!(
        within(from_client.recv()).await.unwrap().unwrap(),
        b"xin chao"
    );

    let refusing = endpoint(&b, trusting(&[]), NetConfig::default());
    let (dialed, accepted) = within(async {
        tokio::join!(
            client.connect_early(refusing.local_addr(), Some(b.id())),
            async { refusing.accept().await.expect("endpoint open") }
        )
    })
    .await;
    assert!(
        matches!(accepted, Err(NetError::Untrusted { .. })),
        "{accepted:?}"
    );
    let dialed = dialed.expect("our side of the handshake completes");
    let (mut tx, mut rx) = dialed.open_stream().await.unwrap();
    // The write may or may not see the close first; the read must.
    let _ = tx.send(b"xin chao").await;
    match within(rx.recv()).await {
        Err(NetError::RefusedByPeer { us, .. }) => assert_eq!(us, a.id()),
        other => panic!("{other:?}"),
    }
    // `connect` to the same peer reports the refusal itself.
    let (dialed, _) = handshake(&client, &refusing, None).await;
    assert!(
        matches!(dialed, Err(NetError::RefusedByPeer { .. })),
        "{dialed:?}"
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused() {
    let (a, b, c) = (key(1), key(2), key(3));
    let config = NetConfig {
        connections_max: 1,
        ..NetConfig::default()
    };
    let trust = trusting(&[a.id(), b.id(), c.id()]);
    let server = endpoint(&b, trust.clone(), config);
    let first = endpoint(&a, trust.clone(), NetConfig::default());
    let second = endpoint(&c, trust, NetConfig::default());
    let (dialed, accepted) = handshake(&first, &server, None).await;
    let (_kept_dialed, _kept_accepted) = (dialed.unwrap(), accepted.unwrap());
    assert_eq!(
        handshake_outcome(&second, &server, None).await,
        "peer-busy | too-many-connections 1"
    );
}

#[tokio::test]
async fn retries_stop_after_the_limit_and_never_follow_a_refusal() {
    let config = NetConfig {
        connect_timeout_ms: 100,
        ..NetConfig::default()
    };
    let backoff = Backoff {
        base_ms: 20,
        max_ms: 40,
        multiplier: 2,
        retries_max: 2,
    };
    let (a, b) = (key(1), key(2));
    let client = endpoint(&a, trusting(&[b.id()]), config.clone());

    // Nobody answers on this port: one try and two retries, then the error.
    let silent = std::net::UdpSocket::bind(loopback()).unwrap();
    let mut draws = 0;
    let mut random = || {
        draws += 1;
        u64::MAX
    };
    let started = Instant::now();
    let result = within(client.connect_with_retry(
        silent.local_addr().unwrap(),
        None,
        &backoff,
        &mut random,
    ))
    .await;
    assert!(
        matches!(
            result,
            Err(NetError::ConnectTimeout {
                timeout_ms: 100,
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(draws, 2);
    assert!(started.elapsed() >= Duration::from_millis(3 * 100));

    // A peer that refuses us is not asked again.
    let server = endpoint(&b, trusting(&[]), config);
    let mut draws = 0;
    let mut random = || {
        draws += 1;
        0
    };
    let (result, accepted) = within(async {
        tokio::join!(
            client.connect_with_retry(server.local_addr(), None, &backoff, &mut random),
            server.accept()
        )
    })
    .await;
    assert!(
        matches!(result, Err(NetError::RefusedByPeer { .. })),
        "{result:?}"
    );
    assert!(matches!(accepted, Some(Err(NetError::Untrusted { .. }))));
    assert_eq!(draws, 0);
}

#[test]
fn inconsistent_settings_are_refused() {
    let bad = [
        NetConfig {
            keep_alive_ms: 30_000,
            ..NetConfig::default()
        },
        NetConfig {
            frame_bytes_max: 0,
            ..NetConfig::default()
        },
        NetConfig {
            connections_max: 0,
            ..NetConfig::default()
        },
    ];
    for config in bad {
        assert!(
            matches!(config.validate(), Err(NetError::Config(_))),
            "{config:?}"
        );
    }
    assert!(NetConfig::default().validate().is_ok());
}

/// A `danvan sync` process dials with a dial-only endpoint: still pinned
/// both ways, refused when untrusted, never accepting, and a small
/// exchange costs about the three padded handshake datagrams the QUIC
/// spec requires (1,200 bytes each) and little more: no path MTU probes,
/// no spare connection ids sent to it.
#[tokio::test]
async fn a_dial_only_endpoint_is_pinned_and_spends_few_bytes() {
    let (a, b, stranger) = (key(1), key(2), key(3));
    let trust = trusting(&[a.id(), b.id()]);
    let dial_only = NetConfig {
        dial_only: true,
        ..NetConfig::default()
    };
    let server = endpoint(&b, trust.clone(), NetConfig::default());
    let client = endpoint(&a, trust.clone(), dial_only.clone());
    let (dialed, accepted) = handshake(&client, &server, Some(b.id())).await;
    let (dialed, accepted) = (dialed.unwrap(), accepted.unwrap());
    assert_eq!(dialed.peer(), b.id());
    assert_eq!(accepted.peer(), a.id());

    let stats = one_frame_each_way(&dialed, &accepted).await;
    assert_eq!(stats.path.sent_plpmtud_probes, 0, "no MTU probing");
    assert_eq!(stats.frame_tx.new_connection_id, 0, "it issues no ids");
    assert_eq!(
        stats.frame_rx.new_connection_id, 0,
        "the server's one spare id comes inside its handshake flight"
    );
    let wire = stats.udp_tx.bytes + stats.udp_rx.bytes;
    assert!(wire < 4_000, "handshake and two frames took {wire} B");

    // A dial-only endpoint is pinned like any other: an unexpected or
    // untrusted server is refused, and a server refuses an untrusted dialer.
    let impostor = endpoint(&stranger, trusting(&[a.id()]), NetConfig::default());
    let (dialed, _) = handshake(&client, &impostor, Some(b.id())).await;
    assert!(matches!(dialed, Err(NetError::UnexpectedPeer { .. })));
    let outsider = endpoint(&stranger, trust.clone(), dial_only);
    let (dialed, accepted) = handshake(&outsider, &server, None).await;
    assert!(matches!(accepted, Err(NetError::Untrusted { .. })));
    assert!(dialed.is_err());

    // And it serves nobody: a dial to it is never answered.
    let prober = endpoint(
        &b,
        trust,
        NetConfig {
            connect_timeout_ms: 500,
            ..NetConfig::default()
        },
    );
    let refused = prober.connect(client.local_addr(), None).await;
    assert!(
        refused.is_err(),
        "a dial-only endpoint accepted a connection"
    );
}

/// One small frame each way on a new stream, as an idle check-in's Hello
/// and answer; returns the dialer's QUIC counters after it.
async fn one_frame_each_way(dialed: &Connection, accepted: &Connection) -> quinn::ConnectionStats {
    let (mut to_server, mut from_server) = dialed.open_stream().await.unwrap();
    to_server.send(&[7; 60]).await.unwrap();
    let (mut to_client, mut from_client) = within(accepted.accept_stream()).await.unwrap();
    assert_eq!(within(from_client.recv()).await.unwrap().unwrap(), [7; 60]);
    to_client.send(&[8; 60]).await.unwrap();
    assert_eq!(within(from_server.recv()).await.unwrap().unwrap(), [8; 60]);
    dialed.stats()
}

/// One exchange of an idle check-in's shape from a dial-only endpoint: the
/// handshake, one small frame each way. Returns what the dialer sent and
/// received: (datagrams sent, datagrams received, bytes both ways, spare
/// connection ids received in frames of their own).
async fn check_in_datagrams(client: &Endpoint, server: &Endpoint) -> (u64, u64, u64, u64) {
    let (dialed, accepted) = handshake(client, server, None).await;
    let (dialed, accepted) = (dialed.unwrap(), accepted.unwrap());
    let stats = one_frame_each_way(&dialed, &accepted).await;
    dialed.close("xong");
    accepted.close("xong");
    (
        stats.udp_tx.datagrams,
        stats.udp_rx.datagrams,
        stats.udp_tx.bytes + stats.udp_rx.bytes,
        stats.frame_rx.new_connection_id,
    )
}

/// What keeps an idle check-in under 4 KB (issue 13): past the three
/// padded handshake datagrams, the hub sends HANDSHAKE_DONE and its answer,
/// the node its Hello, one datagram each. The spare connection id rides in
/// the hub's padded flight (its "preferred address") instead of a packet
/// of its own, and a frame's length prefix leaves in the same packet as
/// the frame. Both sides run on several threads, as `danvan serve` and
/// `danvan sync` do, so that a prefix written apart could leave alone. A
/// slow machine may add an acknowledgement or a retransmission to one try
/// (timers, not the protocol), so the shape must show in one of five;
/// a spare id in a packet of its own fails every try.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_check_in_is_three_datagrams_each_way() {
    let (a, b) = (key(1), key(2));
    let trust = trusting(&[a.id(), b.id()]);
    let server = endpoint(&b, trust.clone(), NetConfig::default());
    let client = endpoint(
        &a,
        trust,
        NetConfig {
            dial_only: true,
            ..NetConfig::default()
        },
    );
    let mut tries = Vec::new();
    for _ in 0..5 {
        let (sent, received, bytes, spare_ids) = check_in_datagrams(&client, &server).await;
        assert_eq!(
            spare_ids, 0,
            "a spare connection id came in a packet of its own"
        );
        assert!(bytes < 4_000, "handshake and two frames took {bytes} B");
        tries.push((sent, received, bytes));
        // Three each way at best; an acknowledgement the scheduler splits
        // off (a loaded CI machine) may add one on either side, no more.
        if sent + received <= 7 {
            return;
        }
    }
    panic!("(datagrams sent, received, bytes) of five tries, none within 7 in all: {tries:?}");
}

/// Both ends of every connection, the dialer's and the acceptor's, run the
/// controller that keeps a lossy radio link full (`congestion.rs`), not
/// quinn's default: a hub sends a cold sync's bulk, a node its pushes.
#[tokio::test]
async fn both_ends_use_the_path_floor_congestion_controller() {
    let (a, b) = (key(1), key(2));
    let trust = trusting(&[a.id(), b.id()]);
    let server = endpoint(&b, trust.clone(), NetConfig::default());
    for dial_only in [false, true] {
        let config = NetConfig {
            dial_only,
            ..NetConfig::default()
        };
        let client = endpoint(&a, trust.clone(), config);
        let (dialed, accepted) = handshake(&client, &server, Some(b.id())).await;
        let (dialed, accepted) = (dialed.unwrap(), accepted.unwrap());
        one_frame_each_way(&dialed, &accepted).await;
        for (side, connection) in [("dialer", &dialed), ("acceptor", &accepted)] {
            let controller = connection.quic().congestion_state().into_any();
            assert!(
                controller
                    .downcast::<crate::congestion::PathFloor>()
                    .is_ok(),
                "the {side} (dial_only {dial_only}) runs another congestion controller"
            );
        }
    }
}
