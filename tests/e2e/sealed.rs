//! Sealed bundles: only the nodes named read them, a changed byte is
//! refused, and a plaintext bundle says what personal data it carries.

use crate::harness::Dv;
use crate::sync::node_id;

pub(crate) const CITIZEN: &str = "Trần Thị Bích Ngọc";
pub(crate) const CCCD: &str = "051234567890";

/// Decompresses the zstd payload of a version-1 bundle (as `zstd -d`
/// over its payload would) and returns it with the raw file: what
/// `strings` could find.
fn readable(bytes: &[u8]) -> Vec<u8> {
    let mut all = bytes.to_vec();
    if bytes.len() > 18 && bytes[8] == 1 && bytes[9] == 1 {
        let len = u32::from_le_bytes(bytes[14..18].try_into().unwrap()) as usize;
        let payload = &bytes[18..18 + len];
        all.extend(zstd_decode(payload));
    }
    all
}

/// `zstd -d` over the payload.
fn zstd_decode(payload: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("zstd")
        .args(["-d", "-c", "-q"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("zstd on PATH");
    child.stdin.take().unwrap().write_all(payload).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "zstd -d failed");
    out.stdout
}

/// Adds a petition of [`CITIZEN`] with [`CCCD`] and returns its id.
pub(crate) fn add_petition(dv: &Dv, more: &[&str]) -> String {
    let mut args = vec![
        "petition",
        "add",
        "--received",
        "2023-07-20",
        "--citizen",
        CITIZEN,
        "--id-number",
        CCCD,
        "--content",
        "Đề nghị xem xét đơn giá bồi thường",
    ];
    args.extend_from_slice(more);
    dv.add(&args)
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn sealed_bundle_hides_personal_data_and_only_its_recipients_import_it() {
    let sender = Dv::init("pho-minh");
    add_petition(&sender, &["--address", "Thôn Vĩnh Xuân"]);
    let reader = Dv::init("pho-minh");
    let other = Dv::init("pho-minh");
    let plain = sender.dir.join("plain.dvb");
    let sealed = sender.dir.join("sealed.dvb");

    // Plaintext only when asked, and it says what it carries.
    sender.fails(
        &["bundle", "export", "--out", sealed.to_str().unwrap()],
        "--plain",
    );
    assert!(!sealed.exists());
    let out = sender.run(&[
        "bundle",
        "export",
        "--plain",
        "--out",
        plain.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("1 họ tên, 1 số CCCD, 1 địa chỉ"), "{said}");
    let plain_bytes = std::fs::read(&plain).unwrap();
    assert!(contains(&readable(&plain_bytes), CCCD));
    assert!(contains(&readable(&plain_bytes), CITIZEN));

    sender.ok(&[
        "bundle",
        "export",
        "--for",
        &node_id(&reader),
        "--out",
        sealed.to_str().unwrap(),
    ]);
    let sealed_bytes = std::fs::read(&sealed).unwrap();
    let seen = readable(&sealed_bytes);
    assert!(!contains(&seen, CCCD) && !contains(&seen, CITIZEN));

    // A node not named cannot read it, and stores nothing.
    other.fails(
        &["bundle", "import", sealed.to_str().unwrap()],
        "mã hoá cho nút khác",
    );
    assert_eq!(other.count(&["list", "--kind", "petition"]), 0);

    // A flipped byte anywhere is refused, nothing stored.
    for at in [20, sealed_bytes.len() / 2, sealed_bytes.len() - 1] {
        let mut bad = sealed_bytes.clone();
        bad[at] ^= 0x01;
        let path = reader.dir.join(format!("bad-{at}.dvb"));
        std::fs::write(&path, bad).unwrap();
        reader.fails(&["bundle", "import", path.to_str().unwrap()], "gói");
        assert_eq!(reader.count(&["list", "--kind", "petition"]), 0);
    }

    // The named node imports it, every change checked as before.
    let imported = reader.json(&["bundle", "import", sealed.to_str().unwrap()]);
    assert!(imported["new"].as_u64().unwrap() > 0, "{imported}");
    assert_eq!(reader.count(&["list", "--kind", "petition"]), 1);
}

#[test]
fn files_written_with_personal_data_are_owner_only_under_umask_022() {
    use std::os::unix::fs::PermissionsExt;
    let dv = Dv::init("pho-minh");
    add_petition(&dv, &[]);
    let dir = dv.dir.join("ra");
    std::fs::create_dir(&dir).unwrap();
    let out = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let runs: [Vec<String>; 3] = [
        vec![
            "export".into(),
            "--format".into(),
            "csv".into(),
            "--out".into(),
            out("x.csv"),
        ],
        vec![
            "report".into(),
            "--period".into(),
            "2023-H2".into(),
            "--out".into(),
            out("r.txt"),
        ],
        vec![
            "bundle".into(),
            "export".into(),
            "--plain".into(),
            "--out".into(),
            out("b.dvb"),
        ],
    ];
    for args in &runs {
        let mut cmd = std::process::Command::new("sh");
        let status = crate::harness::without_danvan_env(&mut cmd)
            .arg("-c")
            .arg("umask 022; exec \"$@\"")
            .arg("sh")
            .arg(crate::harness::danvan_bin())
            .arg("--data-dir")
            .arg(&dv.dir)
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "{args:?}");
        let path = args.last().unwrap();
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{path}: {mode:o}");
    }
    // The report carries no citizen's name or CCCD.
    let report = std::fs::read_to_string(dir.join("r.txt")).unwrap();
    assert!(
        !report.contains(CITIZEN) && !report.contains(CCCD),
        "{report}"
    );
}

#[test]
fn show_masks_the_cccd_for_a_node_that_may_not_write_the_petition() {
    let (_town, _hub, officer, viewer) = crate::sealed::town_officer_viewer();
    let id = add_petition(&officer, &[]);
    // The officer may write it: whole on its record page.
    assert!(officer.ok(&["show", &id]).contains(CCCD));
    officer.ok(&["sync"]);
    viewer.ok(&["sync"]);
    let shown = viewer.ok(&["show", &id]);
    assert!(!shown.contains(CCCD), "{shown}");
    assert!(shown.contains("0512******90"), "{shown}");
    let json = viewer.json(&["show", &id]).to_string();
    assert!(
        !json.contains(CCCD) && json.contains("0512******90"),
        "{json}"
    );
}

/// A town hub serving, with an officer and a viewer of Phổ Minh enrolled
/// and joined: the town, its hub, the officer, the viewer.
pub(crate) fn town_officer_viewer() -> (Dv, crate::sync::Server, Dv, Dv) {
    use crate::access::enroll;
    let town = Dv::init_with("town", &["--authority", "--unit", "duc-pho"]);
    let officer = Dv::init("pho-minh");
    let viewer = Dv::init("pho-minh");
    let hub = crate::sync::Server::start(&town, &[]);
    for (dv, role) in [(&officer, "officer"), (&viewer, "viewer")] {
        enroll(&town, &hub, dv, &["--unit", "pho-minh", "--role", role]);
    }
    (town, hub, officer, viewer)
}
