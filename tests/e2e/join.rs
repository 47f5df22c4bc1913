//! Joining a town: a hub address written as a host name (resolved at each
//! connection), the invite as a QR code, short codes read over the phone,
//! and laptops that find each other on the LAN.

use std::time::Duration;

use crate::access::enroll_at;
use crate::harness::{Dv, wait_until};
use crate::sync::{Server, node_id};

/// The hub given as `localhost:PORT` everywhere a hub address goes: in the
/// invite (`join` syncs through it), to `sync` by default, to `sync` and to
/// `serve --hub` written out. A name that does not resolve is refused with
/// its own message and the unreachable exit code, and nothing is stored.
/// A town office serving on loopback, its address as `localhost:PORT`,
/// and two fresh laptops of Phổ Minh and Phổ Ninh.
fn town_with_hub() -> (Dv, Server, String, Dv, Dv) {
    let town = Dv::init_with("town", &["--authority", "--unit", "duc-pho"]);
    let hub = Server::start(&town, &[]);
    let named = format!("localhost:{}", hub.addr.port());
    (town, hub, named, Dv::init("pho-minh"), Dv::init("pho-ninh"))
}

#[test]
fn a_hub_named_by_host_name_is_resolved_at_each_connection() {
    let (town, _hub, named, minh, ninh) = town_with_hub();
    for (dv, unit) in [(&minh, "pho-minh"), (&ninh, "pho-ninh")] {
        enroll_at(&town, &named, dv, &["--unit", unit, "--role", "officer"]);
    }

    // `sync` with no address goes to the hub by its name.
    let id = minh.activity("tiep-dan", "2024-03-05", "Tiếp dân tháng 3 phường Phổ Minh");
    minh.ok(&["sync"]);
    let at_town = town.ok(&["show", &id]);
    assert!(at_town.contains("Tiếp dân tháng 3"), "{at_town}");
    // … and written out.
    let id2 = minh.activity("tiep-dan", "2024-04-05", "Tiếp dân tháng 4 phường Phổ Minh");
    minh.ok(&["sync", &named]);
    assert!(town.ok(&["show", &id2]).contains("Tiếp dân tháng 4"));

    // A node serving with `--hub localhost:PORT` keeps its link up by name.
    let ninh_server = Server::start(&ninh, &["--hub", &named]);
    let id3 = ninh.activity("tiep-dan", "2024-05-06", "Tiếp dân phường Phổ Ninh");
    wait_until(
        "the upstream link carries Phổ Ninh's record",
        Duration::from_secs(30),
        || town.run(&["show", &id3]).status.success(),
    );
    drop(ninh_server);

    // A name that does not resolve: a clear message, exit code 4, nothing stored.
    let out = minh.fails(
        &["sync", "khong-co-may-nay.invalid:7420"],
        "không tìm thấy địa chỉ khong-co-may-nay.invalid:7420",
    );
    assert!(out.contains("lỗi:"), "{out}");
    let code = minh
        .run(&["sync", "khong-co-may-nay.invalid:7420"])
        .status
        .code();
    assert_eq!(code, Some(4), "unreachable exit code");
    // A malformed address is refused before anything is tried.
    let out = town.run(&["invite", &node_id(&minh), "--addr", "tram thi xa:7420"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("TÊN-MÁY:CỔNG"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `invite --qr` draws the invite on the terminal: read back, the drawing
/// is exactly the QR code of the invite text printed below it, and that
/// text is an invite for the node. `--qr-out` writes the same code as SVG
/// or PNG (the PNG's pixels are the modules); any other extension is refused.
#[test]
fn an_invite_is_drawn_as_a_qr_code_on_the_terminal_and_in_files() {
    let town = Dv::init_with("town", &["--authority", "--unit", "duc-pho"]);
    let minh = Dv::init("pho-minh");
    let id = node_id(&minh);
    town.ok(&[
        "roster", "add", &id, "--unit", "pho-minh", "--role", "officer",
    ]);
    let svg = town.dir.join("moi.svg");
    let png_path = town.dir.join("moi.png");
    let out = town.ok(&[
        "invite",
        &id,
        "--addr",
        "tram.ducpho.vn:7420",
        "--qr",
        "--qr-out",
        svg.to_str().unwrap(),
    ]);
    let text = out.lines().last().unwrap().trim();
    let invite = danvan_model::Invite::decode(text).expect("the printed invite parses");
    assert_eq!(invite.node.to_string(), id);
    assert_eq!(invite.hub_addr, "tram.ducpho.vn:7420");
    let drawing: String = out
        .lines()
        .take_while(|l| !l.starts_with("Quét mã QR"))
        .collect::<Vec<_>>()
        .join("\n");
    let code = danvan_web::qr::code(text).unwrap();
    let expected = danvan_web::qr::modules(&code);
    let mut read = danvan_web::qr::terminal_modules(&drawing);
    read.truncate(expected.len());
    assert_eq!(read, expected, "the terminal QR is the invite's code");
    assert!(expected.len() > 2 * danvan_web::qr::QUIET_ZONE + 20);

    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg_text.contains("<svg") && svg_text.contains("<path"),
        "{svg_text}"
    );
    assert_eq!(svg_text, danvan_web::qr::svg(&code));

    town.ok(&["invite", &id, "--qr-out", png_path.to_str().unwrap()]);
    let decoder = png::Decoder::new(std::fs::File::open(&png_path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let scale = info.width as usize / expected.len();
    assert_eq!(info.width as usize, scale * expected.len());
    for (y, row) in expected.iter().enumerate() {
        for (x, &dark) in row.iter().enumerate() {
            let px = buf[(y * scale + scale / 2) * info.width as usize + x * scale + scale / 2];
            assert_eq!(px == 0, dark, "PNG module {x},{y}");
        }
    }

    let bad = town.dir.join("moi.jpg");
    let out = town.run(&["invite", &id, "--qr-out", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(".svg hoặc .png"));
    assert!(!bad.exists());
}

/// Makes a short code for `node` at the town office (whose `serve` knows its
/// own address) with `extra` options; returns the code.
fn short_code(town: &Dv, node: &Dv, extra: &[&str]) -> String {
    let id = node_id(node);
    let mut args = vec!["invite", id.as_str(), "--short"];
    args.extend_from_slice(extra);
    let code = town.ok(&args).trim().to_string();
    assert_eq!(code.len(), 12, "{code}");
    assert!(
        code.chars()
            .all(|c| c == '-' || "23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(c))
    );
    code
}

/// Runs `join --code` expecting a refusal with `needle` and exit code 3,
/// and checks the joiner wrote nothing: no roster, no trusted hub.
fn refused_join(node: &Dv, code: &str, hub: &str, needle: &str) {
    let out = node.fails(&["join", "--code", code, "--hub", hub], needle);
    assert!(out.contains("lỗi:"), "{out}");
    let again = node.run(&["join", "--code", code, "--hub", hub]);
    assert_eq!(again.status.code(), Some(3));
    assert_eq!(node.json(&["roster", "show"]), serde_json::Value::Null);
    assert_eq!(node.json(&["trust", "list"]), serde_json::json!([]));
}

/// Short codes with real processes: the town office makes a code, the new
/// laptop joins with it (through the hub's name) and syncs; a wrong code
/// (right lookup, wrong secret) is refused and writes nothing; the same
/// code a second time is refused as used; an expired code is refused.
#[test]
fn a_short_code_read_over_the_phone_joins_once_before_it_expires() {
    let (town, _hub, named, minh, ninh) = town_with_hub();
    for (dv, unit) in [(&minh, "pho-minh"), (&ninh, "pho-ninh")] {
        let id = node_id(dv);
        town.ok(&["roster", "add", &id, "--unit", unit, "--role", "officer"]);
    }
    let town_task = town.task("1.1", "Rà soát hộ nghèo toàn thị xã", &[]);
    // The hub's address in the invite the code stands for is its name.
    let code = short_code(&town, &minh, &["--addr", &named]);

    // One wrong character of the secret: refused, nothing written.
    let mut wrong: Vec<char> = code.chars().collect();
    let last = wrong.len() - 1;
    wrong[last] = if wrong[last] == '2' { '3' } else { '2' };
    let wrong: String = wrong.into_iter().collect();
    refused_join(&minh, &wrong, &named, "không nhận mã ngắn này");

    // The right code (typed loosely): joined and synced both ways.
    let typed = code.to_lowercase().replace('-', " ");
    minh.ok(&["join", "--code", &typed, "--hub", &named]);
    assert_ne!(minh.json(&["roster", "show"]), serde_json::Value::Null);
    assert!(minh.ok(&["show", &town_task]).contains("Rà soát hộ nghèo"));
    let id = minh.activity(
        "tiep-dan",
        "2024-06-01",
        "Tiếp dân sau khi tham gia bằng mã ngắn",
    );
    minh.ok(&["sync"]);
    assert!(town.ok(&["show", &id]).contains("mã ngắn"));

    // The same code again: used.
    let out = minh.run(&["join", "--code", &code, "--hub", &named]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("đã được dùng"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // An expired code: made to last one second, used after it.
    let code = short_code(&town, &ninh, &["--expires", "1s"]);
    // Expiry is the passing of time itself: nothing else to wait on.
    std::thread::sleep(Duration::from_millis(1_200));
    refused_join(&ninh, &code, &named, "đã hết hạn");
    // A code made for another node does not work here either.
    let for_minh = short_code(&town, &minh, &[]);
    refused_join(&ninh, &for_minh, &named, "không nhận mã ngắn này");
    // Out-of-range lifetimes are refused at once.
    for bad in ["8d", "0s", "2ngày", "h", ""] {
        let out = town.run(&["invite", &node_id(&ninh), "--short", "--expires", bad]);
        assert_eq!(out.status.code(), Some(1), "--expires {bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("thời hạn mã ngắn"),
            "--expires {bad:?}"
        );
    }
}

/// Two network namespaces joined by a veth pair, made by the test and
/// removed when dropped: the LAN two field laptops share. `None` when they
/// cannot be made (not root, no `ip`).
struct Lan {
    a: String,
    b: String,
}

impl Lan {
    fn new() -> Option<Lan> {
        let tag = std::process::id() % 100_000;
        let lan = Lan {
            a: format!("dv{tag}a"),
            b: format!("dv{tag}b"),
        };
        let ip = |args: &[&str]| {
            std::process::Command::new("ip")
                .args(args)
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let (va, vb) = (format!("{}v", lan.a), format!("{}v", lan.b));
        let subnet = 1 + tag % 250;
        let ok = ip(&["netns", "add", &lan.a])
            && ip(&["netns", "add", &lan.b])
            && ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb])
            && ip(&["link", "set", &va, "netns", &lan.a])
            && ip(&["link", "set", &vb, "netns", &lan.b])
            && ip(&[
                "-n",
                &lan.a,
                "addr",
                "add",
                &format!("10.231.{subnet}.1/24"),
                "dev",
                &va,
            ])
            && ip(&[
                "-n",
                &lan.b,
                "addr",
                "add",
                &format!("10.231.{subnet}.2/24"),
                "dev",
                &vb,
            ])
            && [(&lan.a, &va), (&lan.b, &vb)].iter().all(|(ns, dev)| {
                ip(&["-n", ns, "link", "set", dev, "up"])
                    && ip(&["-n", ns, "link", "set", "lo", "up"])
            });
        // Dropped on failure too: whatever was made is removed.
        ok.then_some(lan)
    }

    /// `danvan ARGS` on `dv`'s data directory inside namespace `ns`.
    fn command(ns: Option<&str>, dv: &Dv, args: &[&str]) -> std::process::Command {
        let Some(ns) = ns else {
            return dv.command(args);
        };
        let mut cmd = std::process::Command::new("ip");
        cmd.args(["netns", "exec", ns])
            .arg(crate::harness::danvan_bin())
            .arg("--data-dir")
            .arg(&dv.dir)
            .args(args);
        crate::harness::without_danvan_env(&mut cmd);
        cmd
    }
}

/// A process stopped when dropped, even when the test fails: none is left
/// running in a namespace that is removed.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        crate::harness::stop(&mut self.0);
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// Laptops that find each other: two officer laptops of the town, with no
/// hub in reach, on one LAN. The test makes that LAN as two network
/// namespaces joined by a veth pair when it can (root and `ip`; the CI
/// runner can), every danvan process run with `ip netns exec`; otherwise
/// it runs on the host's own interfaces (loopback multicast and whatever
/// the host has). One laptop serves (and advertises over mDNS), a third
/// machine not in the roster serves too; the other laptop's `peers --lan`
/// lists the first by its roster name and the stranger as unknown, refuses
/// `--sync-with STRANGER` without sending anything, and syncs with `--sync-with ID`: the
/// record arrives.
#[test]
fn laptops_on_one_wifi_find_each_other_and_sync_only_with_members() {
    // The stranger is a machine of no town at all.
    let (town, hub, _, first, stranger) = town_with_hub();
    let second = Dv::init("pho-minh");
    {
        for (dv, name) in [
            (&first, "Máy tổ Phổ Minh 1"),
            (&second, "Máy tổ Phổ Minh 2"),
        ] {
            let args = ["--unit", "pho-minh", "--role", "officer", "--name", name];
            crate::access::enroll(&town, &hub, dv, &args);
        }
        // Before leaving for the village: the roster that lists both.
        first.ok(&["sync"]);
        drop(hub);
    }
    let lan = Lan::new();
    let (ns_a, ns_b) = match &lan {
        Some(l) => (Some(l.a.as_str()), Some(l.b.as_str())),
        None => (None, None),
    };
    eprintln!(
        "LAN: {}",
        if lan.is_some() {
            "network namespaces"
        } else {
            "host interfaces"
        }
    );
    let record = first.activity("tiep-dan", "2024-07-02", "Tiếp dân ở thôn không có sóng");
    let serve = ["serve", "--listen", "0.0.0.0:0"];
    let first_serve = Stopped(crate::sync::spawn_serve(&mut Lan::command(ns_a, &first, &serve)).0);
    let stranger_serve =
        Stopped(crate::sync::spawn_serve(&mut Lan::command(ns_a, &stranger, &serve)).0);
    let first_id = node_id(&first);
    let stranger_id = node_id(&stranger);

    let browse = |extra: &[&str]| {
        let mut args = vec!["peers", "--lan", "--timeout", "3"];
        args.extend_from_slice(extra);
        Lan::command(ns_b, &second, &args).output().unwrap()
    };
    let mut listed = serde_json::Value::Null;
    wait_until(
        "both machines answer on the LAN",
        Duration::from_secs(40),
        || {
            let out = browse(&["--json"]);
            listed = serde_json::from_slice(&out.stdout).unwrap_or_default();
            listed.as_array().is_some_and(|a| a.len() >= 2)
        },
    );
    let entry = |id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not listed: {listed}"))
    };
    assert_eq!(entry(&first_id)["known"], true);
    assert_eq!(entry(&first_id)["name"], "Máy tổ Phổ Minh 1");
    assert_eq!(entry(&stranger_id)["known"], false);
    let text = browse(&[]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Máy tổ Phổ Minh 1"), "{text}");
    assert!(
        text.contains("không có trong danh sách thành viên"),
        "{text}"
    );

    // The stranger: refused before anything is sent.
    let out = browse(&["--sync-with", &stranger_id]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("không có trong danh sách thành viên"));
    assert!(second.run(&["show", &record]).status.code() != Some(0));

    // The member, confirmed by id: synced, the record arrives.
    let out = browse(&["--sync-with", &first_id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(second.ok(&["show", &record]).contains("thôn không có sóng"));
    drop((first_serve, stranger_serve));
    // The stranger never had a session with anyone.
    assert!(crate::access::audit_reasons(&stranger, "session").is_empty());
}
