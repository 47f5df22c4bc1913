//! Version compatibility (issue 16, item 8): the kept vectors of every
//! release under `tests/golden/compat/<version>/` are read by this build.
//!
//! Each release adds its directory, made by this file's generator
//! (`DANVAN_WRITE_COMPAT=1 cargo test --workspace --test e2e compat_vectors`);
//! an old directory is never edited. A change that breaks reading one is a
//! breaking change and needs a migration (see ARCHITECTURE.md).
//!
//! A version directory holds:
//! - `town/` and `node/`: the data directories of a town hub and of a commune
//!   officer enrolled in it (store, node key, unit tree; the town's authority
//!   key). The node received the town's task, then wrote one record of each
//!   kind and an edit offline: the town does not hold them.
//! - `list.json` (`list --json` of the node) and `records.json` (`show --json`
//!   of each record), as that release printed them.
//! - `node.dvb`: the node's `bundle export`.
//! - `wire/` and `wire.json`: one frame of every protocol message, in every
//!   protocol version that release speaks, with the fields each must read as.
//!   Hello, Offer and Bodies are the node serving its offline work to the
//!   town (the node's real Hello, feed and changes), so they can be replayed
//!   to a hub.

use std::path::{Path, PathBuf};
use std::time::Duration;

use danvan_model::{Checkpoint, NodeId, NodeKey, SignedChange};
use danvan_proto::{
    Hello, Message, PROTOCOL_VERSION, Session, SessionConfig, WireChange, decode_bundle,
    decode_message, encode_message_as,
};
use danvan_testkit::MemReplica;
use serde_json::{Value, json};

use crate::access::enroll;
use crate::harness::{Dv, TempDir};
use crate::sync::Server;

/// The directory of every release's vectors.
fn compat_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/compat")
}

/// Every kept version directory, oldest name first.
fn kept_versions() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(compat_root())
        .expect("tests/golden/compat exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(
        !dirs.is_empty(),
        "no kept version under {:?}",
        compat_root()
    );
    dirs
}

/// The files of a data directory that make it: never the lock, and never a
/// WAL (the store is checkpointed when the last process closes it).
const KEPT_FILES: [&str; 4] = ["danvan.db", "node.key", "units.toml", "authority.key"];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap() + "\n").unwrap();
}

/// A message's fields as the kept JSON names them. A later field is added
/// here as the message grows; the kept JSON of an older version is read as
/// a subset (`assert_kept`), so adding one breaks no old vector.
fn message_json(message: &Message) -> Value {
    let changes = |changes: &[WireChange]| -> Value {
        changes
            .iter()
            .map(|c| {
                json!({
                    "doc": hex(c.doc.as_bytes()),
                    "author": hex(c.author.as_bytes()),
                    "signature": c.signature.map(|s| hex(&s)),
                    "body": hex(&c.body),
                })
            })
            .collect()
    };
    match message {
        Message::Hello(h) => json!({
            "kind": "hello",
            "version": h.version,
            "min_version": h.min_version,
            "node": hex(h.node.as_bytes()),
            "epoch": hex(&h.epoch),
            "latest_seq": h.latest_seq,
            "roster_version": h.roster_version,
            "checkpoint": h.checkpoint.map(|c| json!({"epoch": hex(&c.epoch), "seq": c.seq})),
            "cold": h.cold,
            "keep_signatures": h.keep_signatures,
        }),
        Message::Offer {
            from_seq,
            upto_seq,
            hashes,
        } => json!({
            "kind": "offer",
            "from_seq": from_seq,
            "upto_seq": upto_seq,
            "hashes": hashes.iter().map(|h| hex(h)).collect::<Vec<_>>(),
        }),
        Message::Want { upto_seq, wanted } => json!({
            "kind": "want", "upto_seq": upto_seq, "wanted": wanted,
        }),
        Message::Bodies {
            upto_seq,
            changes: c,
        } => json!({
            "kind": "bodies", "upto_seq": upto_seq, "changes": changes(c),
        }),
        Message::Inline {
            from_seq,
            upto_seq,
            changes: c,
        } => json!({
            "kind": "inline", "from_seq": from_seq, "upto_seq": upto_seq, "changes": changes(c),
        }),
        Message::Ack { upto_seq } => json!({"kind": "ack", "upto_seq": upto_seq}),
        Message::Roster { bytes } => json!({"kind": "roster", "bytes": hex(bytes)}),
        Message::Refused { upto_seq, refused } => json!({
            "kind": "refused",
            "upto_seq": upto_seq,
            "refused": refused.iter().map(|(h, r)| json!({"hash": hex(h), "reason": r})).collect::<Vec<_>>(),
        }),
        Message::Abort { reason } => json!({"kind": "abort", "reason": reason}),
    }
}

/// Every field of `kept` is in `now` with the same value (objects may have
/// gained fields since; arrays keep their length and order).
fn assert_kept(kept: &Value, now: &Value, path: &str) {
    match (kept, now) {
        (Value::Object(k), Value::Object(n)) => {
            for (key, value) in k {
                let inner = format!("{path}.{key}");
                let found = n
                    .get(key)
                    .unwrap_or_else(|| panic!("{inner} is gone: now {now}"));
                assert_kept(value, found, &inner);
            }
        }
        (Value::Array(k), Value::Array(n)) => {
            assert_eq!(k.len(), n.len(), "{path}: {now}");
            for (i, (a, b)) in k.iter().zip(n).enumerate() {
                assert_kept(a, b, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(kept, now, "{path}"),
    }
}

/// Copies a kept data directory into a new temporary one.
fn copy_data_dir(from: &Path, tmp: &TempDir, name: &str) -> Dv {
    let to = tmp.sub(name);
    std::fs::create_dir_all(&to).unwrap();
    for file in KEPT_FILES {
        let src = from.join(file);
        if src.exists() {
            std::fs::copy(&src, to.join(file)).unwrap();
        }
    }
    Dv::at(&to)
}

/// The kept wire vectors of one version directory, decoded by this build:
/// (protocol version, kind) → message.
struct Wire {
    frames: Vec<(u8, String, Vec<u8>, Message)>,
}

impl Wire {
    fn read(dir: &Path) -> Wire {
        let manifest = read_json(&dir.join("wire.json"));
        let mut frames = Vec::new();
        for entry in manifest.as_array().expect("wire.json is a list") {
            let file = entry["file"].as_str().unwrap();
            let bytes = std::fs::read(dir.join("wire").join(file)).unwrap();
            let message = decode_message(&bytes)
                .unwrap_or_else(|e| panic!("{dir:?} {file}: this build cannot read it: {e}"));
            let version = entry["version"].as_u64().unwrap() as u8;
            assert_eq!(bytes[0], version, "{file}");
            assert_kept(&entry["message"], &message_json(&message), file);
            frames.push((
                version,
                entry["message"]["kind"].as_str().unwrap().to_string(),
                bytes,
                message,
            ));
        }
        Wire { frames }
    }

    fn get(&self, version: u8, kind: &str) -> (&[u8], &Message) {
        self.frames
            .iter()
            .find(|(v, k, _, _)| *v == version && k == kind)
            .map(|(_, _, b, m)| (b.as_slice(), m))
            .unwrap_or_else(|| panic!("no kept {kind} of protocol {version}"))
    }

    fn versions(&self) -> Vec<u8> {
        let mut v: Vec<u8> = self.frames.iter().map(|f| f.0).collect();
        v.sort();
        v.dedup();
        v
    }
}

/// The node's own changes as the kept Bodies carry them.
fn bodies_of(message: &Message) -> (u64, Vec<WireChange>) {
    match message {
        Message::Bodies { upto_seq, changes } => (*upto_seq, changes.clone()),
        other => panic!("not Bodies: {other:?}"),
    }
}

/// The kept Bodies with the last change's signature broken: a change every
/// receiver refuses, re-encoded in protocol `version`.
fn tampered_bodies(version: u8, bodies: &Message) -> Vec<u8> {
    let (upto_seq, mut changes) = bodies_of(bodies);
    changes
        .last_mut()
        .unwrap()
        .signature
        .as_mut()
        .expect("signed")[0] ^= 1;
    encode_message_as(version, &Message::Bodies { upto_seq, changes })
}

// ---------------------------------------------------------------- generator

/// Writes this release's vectors with `DANVAN_WRITE_COMPAT=1` (refusing to
/// touch a directory already there); otherwise checks they are kept, so a
/// version bump without them fails here.
#[test]
fn compat_vectors_of_this_release_are_kept() {
    let dir = compat_root().join(env!("CARGO_PKG_VERSION"));
    if std::env::var("DANVAN_WRITE_COMPAT").is_ok_and(|v| v == "1") {
        assert!(
            !dir.exists(),
            "{dir:?} exists: an old version's vectors are never rewritten (remove it by hand only if this version was never released)"
        );
        write_vectors(&dir);
    }
    assert!(
        dir.join("wire.json").is_file() && dir.join("node/danvan.db").is_file(),
        "no kept vectors for this release {}: run DANVAN_WRITE_COMPAT=1 cargo test --workspace --test e2e compat_vectors",
        env!("CARGO_PKG_VERSION")
    );
    // Every message kind this build knows has a kept frame.
    let wire = Wire::read(&dir);
    for kind in [
        "hello", "offer", "want", "bodies", "inline", "ack", "roster", "refused", "abort",
    ] {
        wire.get(PROTOCOL_VERSION as u8, kind);
    }
}

fn write_vectors(dir: &Path) {
    // Plaintext stores, as the first release's were: the kept files must
    // open without the suite's passphrase, and the writer reads the node's
    // key file as it is (an encrypted store seals it).
    let town = Dv::init_with(
        "town",
        &[
            "--plaintext",
            "--authority",
            "--unit",
            "duc-pho",
            "--name",
            "Văn phòng thị xã",
        ],
    );
    let task = town.task(
        "1.5",
        "Tổ chức đối thoại trực tiếp với Nhân dân",
        &["--assign", "pho-minh", "--due", "2024-12-31"],
    );
    let mut hub = Server::start(&town, &[]);
    let node = Dv::init_with(
        "node",
        &[
            "--plaintext",
            "--unit",
            "pho-minh",
            "--name",
            "UBND Phổ Minh",
        ],
    );
    // Joining syncs: the node receives the roster and the town's task.
    enroll(
        &town,
        &hub,
        &node,
        &["--unit", "pho-minh", "--role", "officer"],
    );
    hub.kill();
    // Offline work of every kind, and an edit.
    let activity = node.activity(
        "doi-thoai",
        "2024-07-17",
        "Đối thoại giữa Bí thư Đảng ủy với Nhân dân",
    );
    crate::report::petition(&node, "khieu-nai", "2024-07-20", "đất đai", &[]);
    let household = node.household(
        "Nguyễn Thị Hoa",
        &[
            "--village",
            "Thôn Vĩnh Xuân",
            "--parcel",
            "12/345:250.5:ONT",
        ],
    );
    node.ok(&[
        "household",
        "visit",
        &household,
        "--date",
        "2024-08-01",
        "--by",
        "Tổ công tác",
        "--outcome",
        "Gia đình đồng ý kiểm đếm",
    ]);
    node.add(&[
        "progress",
        "add",
        &task,
        "--period",
        "2024-H2",
        "--status",
        "dang-thuc-hien",
        "--summary",
        "Đã tổ chức 2 hội nghị đối thoại",
    ]);
    node.model(
        "Dân vận khéo trong vận động hiến đất làm đường",
        "kinh-te",
        "2024",
    );
    // The last change: the one the replay tests break.
    node.ok(&["edit", &activity, "--set", "attendance=150"]);

    std::fs::create_dir_all(dir.join("wire")).unwrap();
    let list = node.json(&["list"]);
    let records: Vec<Value> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| node.json(&["show", r["id"].as_str().unwrap()]))
        .collect();
    write_json(&dir.join("list.json"), &list);
    write_json(&dir.join("records.json"), &Value::Array(records));
    let bundle = dir.join("node.dvb");
    node.ok(&[
        "bundle",
        "export",
        "--plain",
        "--out",
        bundle.to_str().unwrap(),
    ]);
    // A command after the hub stopped checkpoints the town's WAL.
    town.ok(&["check"]);
    node.ok(&["check"]);
    for (name, dv) in [("town", &town), ("node", &node)] {
        let to = dir.join(name);
        std::fs::create_dir_all(&to).unwrap();
        for file in KEPT_FILES {
            let src = dv.dir.join(file);
            if src.exists() {
                std::fs::copy(&src, to.join(file)).unwrap();
            }
        }
        assert!(!dv.dir.join("danvan.db-wal").exists() || wal_empty(&dv.dir));
    }
    write_wire(dir, &node, &town, &bundle);
}

fn wal_empty(dir: &Path) -> bool {
    std::fs::metadata(dir.join("danvan.db-wal")).is_ok_and(|m| m.len() == 0)
}

/// Reads what a Hello says from a store file.
fn store_facts(dir: &Path) -> (Vec<u8>, u64, Vec<u8>, Option<Checkpoint>) {
    let conn = crate::harness::open_db(dir);
    let meta = |key: &str| -> Vec<u8> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .unwrap()
    };
    let epoch = meta("epoch");
    let roster = meta("roster");
    let latest: u64 = conn
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| {
            r.get(0)
        })
        .unwrap();
    let checkpoint = conn
        .query_row(
            "SELECT epoch, seq FROM peers WHERE epoch IS NOT NULL ORDER BY seq DESC LIMIT 1",
            [],
            |r| {
                let epoch: Vec<u8> = r.get(0)?;
                let seq: u64 = r.get(1)?;
                Ok(Checkpoint {
                    epoch: epoch.try_into().unwrap(),
                    seq,
                })
            },
        )
        .ok();
    (epoch, latest, roster, checkpoint)
}

fn write_wire(dir: &Path, node: &Dv, town: &Dv, bundle: &Path) {
    let key = read_key(&node.dir);
    let me = key.id();
    let (epoch, latest_seq, roster, checkpoint) = store_facts(&node.dir);
    // Where the town's pull from this node stands: the offer continues there.
    let from_seq: u64 = crate::harness::open_db(&town.dir)
        .query_row(
            "SELECT seq FROM peers WHERE peer = ?1 AND epoch = ?2",
            rusqlite::params![me.as_bytes().to_vec(), epoch],
            |r| r.get(0),
        )
        .unwrap_or(0);
    let roster_version = node.json(&["roster", "show"])["version"].as_u64().unwrap();
    let own: Vec<SignedChange> = decode_bundle(&std::fs::read(bundle).unwrap())
        .unwrap()
        .into_iter()
        .filter(|c| c.author == me)
        .collect();
    assert!(own.len() >= 7, "{} own changes", own.len());
    let hashes: Vec<[u8; 32]> = own.iter().map(|c| c.hash).collect();
    let wire: Vec<WireChange> = own.iter().cloned().map(WireChange::from).collect();
    let mut manifest = Vec::new();
    for version in 1..=PROTOCOL_VERSION as u8 {
        let messages = vec![
            Message::Hello(Hello {
                version: u16::from(version),
                min_version: 1,
                node: me,
                epoch: epoch.clone().try_into().unwrap(),
                latest_seq,
                roster_version,
                checkpoint,
                cold: false,
                keep_signatures: false,
            }),
            Message::Roster {
                bytes: roster.clone(),
            },
            Message::Offer {
                from_seq,
                upto_seq: latest_seq,
                hashes: hashes.clone(),
            },
            Message::Want {
                upto_seq: latest_seq,
                wanted: vec![true; hashes.len()],
            },
            Message::Bodies {
                upto_seq: latest_seq,
                changes: wire.clone(),
            },
            Message::Inline {
                from_seq,
                upto_seq: latest_seq,
                changes: wire[..1].to_vec(),
            },
            Message::Refused {
                upto_seq: latest_seq,
                refused: vec![(
                    hashes[hashes.len() - 1],
                    "chữ ký của thay đổi không hợp lệ".into(),
                )],
            },
            Message::Ack {
                upto_seq: latest_seq,
            },
            Message::Abort {
                reason: "phiên bản giao thức 9 của nút bên kia chưa được hỗ trợ".into(),
            },
        ];
        let mut messages = messages;
        if version >= 4 {
            // Protocol 4: a change whose record has a later change of its
            // author in the message travels without its own signature.
            let covered: Vec<WireChange> = wire
                .iter()
                .enumerate()
                .map(|(i, c)| WireChange {
                    signature: c.signature.filter(|_| {
                        !wire[i + 1..]
                            .iter()
                            .any(|later| later.doc == c.doc && later.author == c.author)
                    }),
                    ..c.clone()
                })
                .collect();
            assert!(covered.iter().any(|c| c.signature.is_none()));
            messages.push(Message::Inline {
                from_seq,
                upto_seq: latest_seq,
                changes: covered,
            });
        }
        for (i, message) in messages.iter().enumerate() {
            // Refused exists from protocol 2.
            if matches!(message, Message::Refused { .. }) && version < 2 {
                continue;
            }
            let value = message_json(message);
            let file = format!(
                "v{version}-{:02}-{}.bin",
                i + 1,
                value["kind"].as_str().unwrap()
            );
            let frame = encode_message_as(version, message);
            assert_eq!(&decode_message(&frame).unwrap(), message);
            std::fs::write(dir.join("wire").join(&file), &frame).unwrap();
            manifest.push(json!({"file": file, "version": version, "message": value}));
        }
    }
    write_json(&dir.join("wire.json"), &Value::Array(manifest));
}

fn read_key(dir: &Path) -> NodeKey {
    let text = std::fs::read_to_string(dir.join("node.key")).unwrap();
    NodeKey::from_secret(unhex(text.trim()).try_into().unwrap())
}

// ------------------------------------------------------------------ readers

/// Every kept wire frame decodes with today's decoder to the kept fields,
/// and today's encoding of it reads back the same; frames of a protocol
/// version this build speaks re-encode byte for byte (bodies excepted:
/// zstd's output may change between library versions).
#[test]
fn every_kept_wire_vector_reads_the_same() {
    for dir in kept_versions() {
        let wire = Wire::read(&dir);
        assert!(
            wire.versions().contains(&1),
            "{dir:?}: no protocol-1 frames"
        );
        for (version, kind, bytes, message) in &wire.frames {
            let again = encode_message_as(*version, message);
            assert_eq!(&decode_message(&again).unwrap(), message, "{dir:?} {kind}");
            if u16::from(*version) <= PROTOCOL_VERSION
                && !matches!(kind.as_str(), "bodies" | "inline")
            {
                assert_eq!(
                    &again, bytes,
                    "{dir:?} v{version} {kind} re-encodes differently"
                );
            }
        }
        // The kept bundle holds the node's changes the Bodies carry.
        let bundle = decode_bundle(&std::fs::read(dir.join("node.dvb")).unwrap())
            .unwrap_or_else(|e| panic!("{dir:?}: the kept bundle no longer reads: {e}"));
        let (_, bodies) = bodies_of(wire.get(1, "bodies").1);
        for change in &bodies {
            assert!(
                bundle.iter().any(|c| c.doc == change.doc
                    && c.body == change.body
                    && c.signature == change.signature),
                "{dir:?}: a Bodies change is not in the bundle"
            );
        }
    }
}

/// A copy of each kept node store, opened by this build (its migrations
/// run), lists and shows what the release that made it printed, and
/// `check` finds nothing wrong; the kept bundle imports into a copy of the
/// kept town store and brings the node's records.
#[test]
fn every_kept_store_opens_with_the_same_records_and_its_bundle_imports() {
    for dir in kept_versions() {
        let tmp = TempDir::new("compat-store");
        let node = copy_data_dir(&dir.join("node"), &tmp, "node");
        let check = node.json(&["check"]);
        assert_check_clean(&check, &dir);
        // The kept audit rows read (the join's session at least).
        let audit = node.json(&["audit"]);
        assert!(
            audit
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["event"].is_string()),
            "{dir:?}: {audit}"
        );
        let list = node.json(&["list"]);
        assert_kept(&read_json(&dir.join("list.json")), &list, "list");
        let kept_records = read_json(&dir.join("records.json"));
        for record in kept_records.as_array().unwrap() {
            let id = record["id"].as_str().unwrap();
            assert_kept(record, &node.json(&["show", id]), id);
        }

        let town = copy_data_dir(&dir.join("town"), &tmp, "town");
        let before = town.count(&["list"]);
        let bundle = dir.join("node.dvb");
        let imported = town.json(&["bundle", "import", bundle.to_str().unwrap()]);
        assert_eq!(imported["refused_count"], 0, "{imported}");
        assert!(imported["new"].as_u64().unwrap() > 0, "{imported}");
        assert_eq!(
            town.count(&["list"]),
            kept_records.as_array().unwrap().len()
        );
        assert!(town.count(&["list"]) > before);
        for record in kept_records.as_array().unwrap() {
            let id = record["id"].as_str().unwrap();
            assert_kept(&record["title"], &town.json(&["show", id])["title"], id);
        }
        assert_check_clean(&town.json(&["check"]), &dir);
    }
}

fn assert_check_clean(check: &Value, dir: &Path) {
    assert_eq!(check["ok"], true, "{dir:?}: {check}");
    assert!(check["records"].as_u64().unwrap() > 0, "{dir:?}: {check}");
}

// ------------------------------------------------ one release behind, replayed

/// A newer build's session state machine talks to a protocol-1 peer with
/// the kept frames: it answers the kept Hello and Offer with exactly the
/// kept Want, commits the kept Bodies, and acknowledges a batch with a
/// refused change without `Refused` (protocol 1 has none), where a
/// protocol-2 peer is told which change it refused.
#[test]
fn a_newer_session_talks_to_a_protocol_1_peer_with_the_kept_frames() {
    for dir in kept_versions() {
        let wire = Wire::read(&dir);
        for version in wire.versions() {
            if u16::from(version) > PROTOCOL_VERSION {
                continue;
            }
            for tamper in [false, true] {
                replay_to_session(&wire, version, tamper, &dir);
            }
        }
    }
}

fn replay_to_session(wire: &Wire, version: u8, tamper: bool, dir: &Path) {
    let what = format!("{dir:?} protocol {version} tampered {tamper}");
    let Message::Hello(hello) = wire.get(version, "hello").1 else {
        panic!("not a Hello")
    };
    // The hub holds the town's changes of the kept bundle, and has pulled
    // the node's feed as far as the kept offer continues from.
    let mut hub = MemReplica::new([0x42; 8]);
    for change in decode_bundle(&std::fs::read(dir.join("node.dvb")).unwrap()).unwrap() {
        if change.author != hello.node {
            hub.add_local(change);
        }
    }
    let Message::Offer { from_seq, .. } = wire.get(version, "offer").1 else {
        panic!("not an Offer")
    };
    let node_store = danvan_proto::PeerStore {
        node: hello.node,
        epoch: hello.epoch,
    };
    danvan_proto::Replica::commit(&mut hub, &node_store, Vec::new(), Some(*from_seq)).unwrap();
    let held = hub.len();
    let hub_id = NodeKey::from_secret([7; 32]).id();
    let mut session = Session::new(0, SessionConfig::default(), hub_id, hello.node, &hub).unwrap();
    let own_hello = session.poll_transmit().expect("the hub's Hello");
    assert!(matches!(decode_message(&own_hello), Ok(Message::Hello(_))));
    session.handle_frame(1, wire.get(version, "hello").0, &mut hub);
    session.handle_frame(2, wire.get(version, "offer").0, &mut hub);
    // Besides its own offer, the hub answers the kept offer with the kept Want.
    let sent: Vec<Vec<u8>> = std::iter::from_fn(|| session.poll_transmit()).collect();
    assert!(sent.iter().all(|f| f[0] == version), "{what}");
    let wants: Vec<&Vec<u8>> = sent
        .iter()
        .filter(|f| matches!(decode_message(f), Ok(Message::Want { .. })))
        .collect();
    assert_eq!(wants, vec![wire.get(version, "want").0], "{what}");
    let bodies = wire.get(version, "bodies").1;
    let frame = if tamper {
        tampered_bodies(version, bodies)
    } else {
        wire.get(version, "bodies").0.to_vec()
    };
    session.handle_frame(3, &frame, &mut hub);
    let sent: Vec<Message> = std::iter::from_fn(|| session.poll_transmit())
        .map(|f| {
            assert_eq!(f[0], version, "{what}: a frame in another version");
            decode_message(&f).unwrap()
        })
        .collect();
    let (upto_seq, changes) = bodies_of(bodies);
    let ack = Message::Ack { upto_seq };
    if tamper && version >= 2 {
        let Message::Refused { refused, .. } = &sent[0] else {
            panic!("{what}: no Refused: {sent:?}")
        };
        assert_eq!(refused.len(), 1, "{what}");
        assert_eq!(sent[1..], [ack], "{what}");
    } else {
        assert_eq!(sent, vec![ack], "{what}: {sent:?}");
    }
    let stored = changes.len() - usize::from(tamper);
    assert_eq!(hub.len(), held + stored, "{what}");
    let failed = std::iter::from_fn(|| session.poll_event()).find_map(|e| match e {
        danvan_proto::Event::Failed(e) => Some(e.to_string()),
        _ => None,
    });
    assert_eq!(failed, None, "{what}");
}

/// A node one release behind syncs with a newer hub, with real processes
/// and real QUIC. There is no older binary here, so the old node is the
/// kept one: its first frames are the kept protocol-1 frames, sent over a
/// real connection with its kept key to today's `danvan serve` on a copy
/// of the kept town store (the last change broken, which the hub refuses
/// and, speaking protocol 1, does not report); then the kept node store,
/// opened by today's binary, runs `danvan sync` and the hub ends with
/// every record as the old release showed it.
#[test]
fn a_node_one_release_behind_syncs_with_a_newer_hub() {
    for dir in kept_versions() {
        let tmp = TempDir::new("compat-sync");
        let town = copy_data_dir(&dir.join("town"), &tmp, "town");
        let node = copy_data_dir(&dir.join("node"), &tmp, "node");
        let hub = Server::start(&town, &[]);
        let hub_id: NodeId = town.ok(&["id"]).trim().parse().unwrap();
        let wire = Wire::read(&dir);
        let key = read_key(&node.dir);
        let bodies = wire.get(1, "bodies").1;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let answers = runtime.block_on(replay_over_quic(
            &key,
            hub.addr,
            hub_id,
            [wire.get(1, "hello").0, wire.get(1, "offer").0],
            tampered_bodies(1, bodies),
        ));
        let (upto_seq, _) = bodies_of(bodies);
        // The hub answered in protocol 1 only, asked for every change and
        // acknowledged the batch without a Refused.
        let Message::Hello(hub_hello) = &answers[0].1 else {
            panic!("{answers:?}")
        };
        assert!(hub_hello.min_version <= 1 && hub_hello.version >= 1);
        assert!(answers[1..].iter().all(|(v, _)| *v == 1), "{answers:?}");
        let messages: Vec<&Message> = answers.iter().map(|(_, m)| m).collect();
        assert!(messages.contains(&wire.get(1, "want").1), "{answers:?}");
        assert!(
            messages.contains(&&Message::Ack { upto_seq }),
            "{answers:?}"
        );
        assert!(
            !messages
                .iter()
                .any(|m| matches!(m, Message::Refused { .. })),
            "{answers:?}"
        );
        let kept_records = read_json(&dir.join("records.json"));
        let kept = kept_records.as_array().unwrap();
        assert_eq!(
            town.count(&["list"]),
            kept.len(),
            "the replayed batch is stored"
        );
        let rejected = town
            .json(&["audit"])
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "rejected-change")
            .count();
        assert_eq!(rejected, 1, "the broken change is refused and logged");
        // The broken change is the activity's last edit: not held yet.
        let activity = kept.iter().find(|r| r["kind"] == "activity").unwrap();
        let id = activity["id"].as_str().unwrap();
        assert_ne!(
            town.json(&["show", id])["attendance"],
            activity["attendance"]
        );
        // Then the kept store, opened by this build, syncs the rest.
        let synced = node.json(&["sync", &hub.addr.to_string()]);
        assert_eq!(synced["changes_rejected"], 0, "{synced}");
        for record in kept {
            let id = record["id"].as_str().unwrap();
            assert_kept(record, &town.json(&["show", id]), id);
        }
        assert_check_clean(&node.json(&["check"]), &dir);
        assert_check_clean(&town.json(&["check"]), &dir);
    }
}

/// Sends `first` frames as the kept node, then `bodies` once the hub asks
/// for them; returns the hub's frames (version byte, message) until its Ack.
async fn replay_over_quic(
    key: &NodeKey,
    hub: std::net::SocketAddr,
    hub_id: NodeId,
    first: [&[u8]; 2],
    bodies: Vec<u8>,
) -> Vec<(u8, Message)> {
    let (endpoint, conn) = crate::rogue::connect_as(key, hub, hub_id).await;
    let (mut tx, mut rx) = conn.open_stream().await.unwrap();
    for frame in first {
        tx.send(frame).await.unwrap();
    }
    let mut answers = Vec::new();
    let read = async {
        while let Ok(Some(frame)) = rx.recv().await {
            let message = decode_message(&frame).expect("the hub's frame reads");
            let want = matches!(message, Message::Want { .. });
            let ack = matches!(message, Message::Ack { .. });
            answers.push((frame[0], message));
            if want {
                tx.send(&bodies).await.unwrap();
            }
            if ack {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .unwrap_or_else(|_| panic!("the hub never acknowledged: {answers:?}"));
    let _ = tx
        .send(&encode_message_as(
            1,
            &Message::Abort {
                reason: "xong".into(),
            },
        ))
        .await;
    conn.close("xong");
    endpoint.close();
    answers
}

/// Today's binary speaking protocol 1 (the hidden `--protocol 1`) with
/// today's hub: a whole session both ways, and a change the hub refuses is
/// refused and logged there while the protocol-1 sender hears nothing of
/// it — it exits 0 and marks nothing, where the same scenario in protocol 2
/// exits 8 and marks the record (`loss::work_the_hub_refuses_comes_back_to_its_author`).
#[test]
fn a_protocol_1_node_syncs_both_ways_with_a_newer_hub_and_hears_no_refusal() {
    let (town, _hub, minh) = crate::loss::town_and_officer();
    let mut task = vec!["--unit", "duc-pho", "--assign", "pho-minh"];
    task.extend(["--due", "2024-12-31"]);
    let task = town.task("2.4", "Tuyên truyền luật đất đai", &task);
    let kept = minh.activity("tuyen-truyen", "2024-03-01", "Tuyên truyền ở khu phố 1");
    let old = ["--protocol", "1", "sync"];
    let both = minh.json(&old);
    assert_eq!(both["changes_sent"], 1, "{both}");
    assert!(both["changes_received"].as_u64().unwrap() >= 1, "{both}");
    assert_eq!(minh.json(&["show", &task])["number"], "2.4");
    assert!(town.ok(&["list"]).contains(&kept[..8]));

    // Written offline while the town makes the officer a viewer.
    let lost = minh.activity("doi-thoai", "2024-03-02", "Đối thoại ở khu phố 3");
    let id = crate::sync::node_id(&minh);
    town.ok(&[
        "roster", "add", &id, "--unit", "pho-minh", "--role", "viewer",
    ]);
    let out = minh.run(&old);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!town.ok(&["list"]).contains(&lost[..8]));
    let refused = crate::loss::audit_events(&town, "rejected-change");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(!minh.ok(&["show", &lost]).contains("chưa được chấp nhận"));
    assert_eq!(minh.json(&["roster", "show"])["version"], 3);
}

/// The previous wire version (protocol 2: bodies as they are) against this
/// build's hub (protocol 3: a dependency the message carries by
/// reference): a node capped at 2 pushes a record and its edit (a change
/// naming another) and pulls the town's task, and a laptop that has written
/// nothing (a cold puller: Inline batches) capped at 2 pulls all of it.
#[test]
fn a_protocol_2_node_syncs_both_ways_with_a_protocol_3_hub() {
    let (town, hub, minh) = crate::loss::town_and_officer();
    // Enrolled before anything is written (`join` speaks this build's
    // version); it writes nothing, so its next sync is a cold pull.
    let laptop = Dv::init_with("laptop", &["--unit", "pho-minh"]);
    crate::access::enroll_officer(&town, &hub, &laptop, "pho-minh");
    let mut task = vec!["--unit", "duc-pho", "--assign", "pho-minh"];
    task.extend(["--due", "2024-12-31"]);
    let task = town.task("2.4", "Tuyên truyền luật đất đai", &task);
    let record = minh.activity("tuyen-truyen", "2024-03-01", "Tuyên truyền ở khu phố 1");
    minh.ok(&["edit", &record, "--set", "place=Nhà văn hóa khu phố 2"]);
    let old = ["--protocol", "2", "sync"];
    let both = minh.json(&old);
    assert_eq!(both["changes_sent"], 2, "{both}");
    assert!(both["changes_received"].as_u64().unwrap() >= 1, "{both}");
    assert_eq!(minh.json(&["show", &task])["number"], "2.4");
    let at_town = town.json(&["show", &record]);
    assert_eq!(at_town["place"], "Nhà văn hóa khu phố 2", "{at_town}");

    let cold = laptop.json(&old);
    assert!(cold["changes_received"].as_u64().unwrap() >= 3, "{cold}");
    assert_eq!(laptop.json(&["show", &record]), at_town);
    assert_eq!(laptop.json(&["show", &task])["number"], "2.4");
}

/// A node of the previous release (protocol 3) syncs both ways with this
/// build's hub (protocol 4: one signature per author's newest change of a
/// record in a message). A node capped at 3 pushes a record and its edit
/// and pulls the town's task. A node of this build pushes a record and its
/// edit too, and pulls the rest: the hub serves, so it asks for every
/// change's own signature (it holds them all), while it leaves out the
/// signature of what an edit covers for the new node, which holds those
/// changes so and still passes `check`. A cold laptop capped at 3 then
/// pulls everything without a refusal: had the hub taken the new node's
/// creation without its signature, it could not send it to the laptop,
/// and the laptop would refuse the edit built on it.
#[test]
fn a_protocol_3_node_syncs_both_ways_with_a_protocol_4_hub() {
    let (town, hub, minh) = crate::loss::town_and_officer();
    let laptop = Dv::init_with("laptop", &["--unit", "pho-minh"]);
    crate::access::enroll_officer(&town, &hub, &laptop, "pho-minh");
    let fresh = Dv::init_with("fresh", &["--unit", "pho-minh"]);
    crate::access::enroll_officer(&town, &hub, &fresh, "pho-minh");
    let mut task = vec!["--unit", "duc-pho", "--assign", "pho-minh"];
    task.extend(["--due", "2024-12-31"]);
    let task = town.task("2.5", "Vận động hiến đất làm đường", &task);
    let record = minh.activity("tuyen-truyen", "2024-03-02", "Tuyên truyền ở khu phố 3");
    minh.ok(&["edit", &record, "--set", "place=Nhà văn hóa khu phố 3"]);
    let old = ["--protocol", "3", "sync"];
    let both = minh.json(&old);
    assert_eq!(both["changes_sent"], 2, "{both}");
    let at_town = town.json(&["show", &record]);
    assert_eq!(at_town["place"], "Nhà văn hóa khu phố 3", "{at_town}");

    let second = fresh.activity("tiep-dan", "2024-03-04", "Tiếp công dân ở khu phố 4");
    fresh.ok(&["edit", &second, "--set", "place=Nhà văn hóa khu phố 4"]);
    let new = fresh.json(&["sync"]);
    assert_eq!(new["changes_sent"], 2, "{new}");
    assert_eq!(new["changes_rejected"], 0, "{new}");
    assert_eq!(fresh.json(&["show", &record]), at_town);
    assert_eq!(
        covered_held(&town),
        0,
        "the hub holds every change's own signature"
    );
    assert!(
        covered_held(&fresh) >= 1,
        "nothing arrived without its signature"
    );
    let check = fresh.json(&["check"]);
    assert_eq!(check["ok"], true, "{check}");

    let cold = laptop.json(&old);
    assert!(cold["changes_received"].as_u64().unwrap() >= 5, "{cold}");
    assert_eq!(cold["changes_rejected"], 0, "{cold}");
    assert_eq!(laptop.json(&["show", &record]), at_town);
    assert_eq!(
        laptop.json(&["show", &second]),
        town.json(&["show", &second])
    );
    assert_eq!(laptop.json(&["show", &task])["number"], "2.5");
}

/// Changes a node holds without their own signature.
fn covered_held(node: &Dv) -> i64 {
    crate::harness::open_db(&node.dir)
        .query_row(
            "SELECT COUNT(*) FROM changes WHERE length(signature) = 0",
            [],
            |r| r.get(0),
        )
        .unwrap()
}
