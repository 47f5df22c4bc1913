//! A trusted but misbehaving peer: malformed, oversized, unknown-version and
//! out-of-order messages end its session with a clear error and store nothing;
//! the hub keeps serving others.

use std::sync::Arc;
use std::time::Duration;

use danvan_model::NodeKey;
use danvan_net::{Endpoint, NetConfig};
use danvan_proto::{Hello, Message, encode_message};

use crate::harness::Dv;
use crate::sync::{Server, node_id, trust};

fn rogue_key() -> NodeKey {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mut secret = [0u8; 32];
    for (i, b) in secret.iter_mut().enumerate() {
        *b = (seed >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(37);
    }
    NodeKey::from_secret(secret)
}

/// A QUIC connection to `hub` under `key`, from an endpoint on loopback
/// that trusts only the hub (the peer is trusted by the hub, or in its roster).
pub(crate) async fn connect_as(
    key: &NodeKey,
    hub: std::net::SocketAddr,
    hub_id: danvan_model::NodeId,
) -> (Endpoint, danvan_net::Connection) {
    let endpoint = Endpoint::bind(
        key,
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(move |id| *id == hub_id),
        NetConfig::default(),
    )
    .unwrap();
    let conn = endpoint
        .connect(hub, Some(hub_id))
        .await
        .expect("the peer connects (the hub trusts it)");
    (endpoint, conn)
}

/// Sends frames as the rogue and returns what the hub answered until it ended the stream.
async fn send_frames(
    key: &NodeKey,
    hub: std::net::SocketAddr,
    hub_id: &str,
    frames: Vec<Vec<u8>>,
) -> Vec<Message> {
    let (endpoint, conn) = connect_as(key, hub, hub_id.parse().unwrap()).await;
    let (mut tx, mut rx) = conn.open_stream().await.unwrap();
    for f in frames {
        if tx.send(&f).await.is_err() {
            break;
        }
    }
    let mut answers = Vec::new();
    let collect = async {
        while let Ok(Some(frame)) = rx.recv().await {
            if let Ok(m) = danvan_proto::decode_message(&frame) {
                answers.push(m);
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), collect).await;
    conn.close("xong");
    endpoint.close();
    answers
}

fn abort_reason(answers: &[Message]) -> String {
    answers
        .iter()
        .find_map(|m| match m {
            Message::Abort { reason } => Some(reason.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("the hub did not abort the session: {answers:?}"))
}

#[test]
fn bad_messages_end_the_session_and_store_nothing() {
    let hub = Dv::init("duc-pho");
    let good = Dv::init("pho-minh");
    good.activity("tiep-dan", "2023-08-03", "Tiếp công dân");
    let key = rogue_key();
    hub.ok(&["trust", "add", &key.id().to_string()]);
    trust(&hub, &good, None);
    let server = Server::start(&hub, &[]);
    trust(&good, &hub, Some(server.addr));
    let hub_id = node_id(&hub);
    let before = hub.json(&["check"]);

    let hello = |version: u16| {
        encode_message(&Message::Hello(Hello {
            version,
            min_version: version,
            node: key.id(),
            epoch: [7; 8],
            latest_seq: 5,
            roster_version: 0,
            checkpoint: None,
            cold: false,
            keep_signatures: false,
        }))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Malformed bytes.
        let answers = send_frames(&key, server.addr, &hub_id, vec![b"\x01\xffrac".to_vec()]).await;
        assert!(!abort_reason(&answers).is_empty());
        // An unknown future protocol version.
        let reason = abort_reason(&send_frames(&key, server.addr, &hub_id, vec![hello(7)]).await);
        assert!(
            reason.contains("7") && reason.contains("phiên bản"),
            "{reason}"
        );
        // Out of order: an acknowledgement before any Hello.
        let ack = encode_message(&Message::Ack { upto_seq: 3 });
        assert!(
            !abort_reason(&send_frames(&key, server.addr, &hub_id, vec![ack]).await).is_empty()
        );
        // Bodies nobody asked for, after a valid Hello.
        let bodies = encode_message(&Message::Bodies {
            upto_seq: 5,
            changes: Vec::new(),
        });
        let answers = send_frames(
            &key,
            server.addr,
            &hub_id,
            vec![hello(danvan_proto::PROTOCOL_VERSION), bodies],
        )
        .await;
        assert!(!abort_reason(&answers).is_empty());
        // Too large: a frame above the transport's limit ends the stream before it is read.
        let huge = vec![0u8; danvan_proto::MESSAGE_BYTES_MAX + 1];
        let _ = send_frames(&key, server.addr, &hub_id, vec![huge]).await;
    });
    // Nothing stored, the store is whole, and the hub still serves a good node.
    assert_eq!(hub.json(&["check"]), before);
    let s = good.json(&["sync", &server.addr.to_string()]);
    assert_eq!(s["changes_sent"], 1);
    assert_eq!(hub.count(&["list", "--kind", "activity"]), 1);
}
