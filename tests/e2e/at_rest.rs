//! Citizens' personal data at rest (issue 14, items 1 and 4): the store, its
//! WAL and a backup are encrypted (SQLCipher under the passphrase), a wrong
//! passphrase is refused with nothing touched, and every file danvan writes
//! in the data directory is 0600 in a 0700 directory whatever the umask.

use std::path::Path;
use std::process::Command;

use crate::harness::{Dv, TempDir, danvan_bin, plaintext, without_danvan_env};

const CITIZEN: &str = "Nguyễn Thị Hoa Mai";
const CCCD: &str = "051090007788";

/// Whether `needle` appears in `path`'s bytes (what `strings` would show:
/// the UTF-8 text of a name, the digits of a CCCD).
fn holds(path: &Path, needle: &str) -> bool {
    let bytes = std::fs::read(path).unwrap_or_default();
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

const PETITION: [&str; 10] = [
    "petition",
    "add",
    "--received",
    "2025-03-01",
    "--citizen",
    CITIZEN,
    "--id-number",
    CCCD,
    "--content",
    "Kiến nghị bồi thường thửa đất",
];

/// Runs `danvan ARGS` on `dv`, without any passphrase source if `plain`.
fn run(dv: &Dv, plain: bool, args: &[&str]) -> String {
    let mut cmd = dv.command(args);
    if plain {
        plaintext(&mut cmd);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Initializes `dv`, writes a petition, backs up; returns where the
/// citizen's name or CCCD shows in the store, its WAL (the writing process
/// has just closed: SQLite keeps the WAL) and the backup.
fn leaks(dv: &Dv, tmp: &TempDir, plain: bool) -> Vec<String> {
    let mut init = vec!["init", "--unit", "pho-minh"];
    if plain {
        init.push("--plaintext");
    }
    run(dv, plain, &init);
    let mut add = PETITION.to_vec();
    add.push("--json");
    let added: serde_json::Value = serde_json::from_str(&run(dv, plain, &add)).unwrap();
    let id = added["id"].as_str().expect("id").to_string();
    assert!(
        run(dv, plain, &["show", &id]).contains(CCCD),
        "readable through danvan"
    );
    let bak = tmp.path().join("sao-luu.dvbak");
    run(dv, plain, &["backup", "--out", bak.to_str().unwrap()]);
    let mut found = Vec::new();
    for file in [dv.dir.join("danvan.db"), dv.dir.join("danvan.db-wal"), bak] {
        for needle in [CITIZEN, CCCD] {
            if holds(&file, needle) {
                found.push(format!("{needle} in {}", file.display()));
            }
        }
    }
    found
}

#[test]
fn an_encrypted_store_its_wal_and_backup_show_no_citizen_and_a_plaintext_one_does() {
    let tmp = TempDir::new("at-rest");
    let found = leaks(&Dv::at(&tmp.path().join("data")), &tmp, false);
    assert!(
        found.is_empty(),
        "plaintext personal data on disk: {found:?}"
    );
    // The same check on a store made with --plaintext finds both: it can fail.
    let tmp = TempDir::new("at-rest-plain");
    let found = leaks(&Dv::at(&tmp.path().join("data")), &tmp, true);
    assert!(
        found.iter().any(|f| f.starts_with(CCCD)) && found.iter().any(|f| f.starts_with(CITIZEN)),
        "a plaintext store shows the name and CCCD: {found:?}"
    );
}

#[test]
fn a_wrong_or_missing_passphrase_is_refused_and_changes_nothing() {
    let (tmp, dv, id) = store_with_petition("wrong-pass");
    let db = dv.dir.join("danvan.db");
    let before = std::fs::read(&db).unwrap();
    let wrong = tmp.path().join("sai");
    std::fs::write(&wrong, "mật khẩu khác\n").unwrap();
    let out = dv
        .command(&["list"])
        .env("DANVAN_PASSPHRASE_FILE", &wrong)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(9), "{err}");
    assert!(err.contains("sai mật khẩu"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(CITIZEN));
    // No source at all, no terminal: says how to give one.
    let out = plaintext(&mut dv.command(&["list"])).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(9), "{err}");
    assert!(err.contains("DANVAN_PASSPHRASE_FILE"), "{err}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "a refused open wrote nothing"
    );
    assert!(dv.ok(&["show", &id]).contains(CITIZEN));
}

#[test]
fn init_without_a_passphrase_source_fails_unless_plaintext_is_asked() {
    let tmp = TempDir::new("init-nopass");
    let dv = Dv::at(&tmp.path().join("data"));
    let out = plaintext(&mut dv.command(&["init", "--unit", "pho-minh"]))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(9), "{err}");
    assert!(
        err.contains("--plaintext") && err.contains("DANVAN_KEY_FILE"),
        "{err}"
    );
    assert!(!dv.dir.join("danvan.db").exists(), "nothing was created");
}

#[cfg(unix)]
#[test]
fn the_data_directory_is_0700_and_its_files_0600_under_umask_022() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = TempDir::new("modes");
    let dir = tmp.path().join("data");
    // A shell with umask 022 runs init, a write, a backup and the demo's
    // kind of key file; every file danvan leaves must be owner-only.
    let script = format!(
        "umask 022 && \"$DV\" --data-dir \"$D\" init --unit pho-minh >/dev/null && \
         \"$DV\" --data-dir \"$D\" petition add --received 2025-03-01 --citizen X --id-number {CCCD} --content Y >/dev/null"
    );
    let mut cmd = Command::new("sh");
    without_danvan_env(&mut cmd);
    let out = cmd
        .arg("-c")
        .arg(script)
        .env("DV", danvan_bin())
        .env("D", &dir)
        .output()
        .unwrap();
    crate::harness::assert_succeeded(&out);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "data directory");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            seen += 1;
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    assert!(seen >= 4, "store, WAL or lock, key, units: {seen} files");

    // A store made by an older build (0644 files, 0755 directory) is
    // tightened on its next open.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    Dv::at(&dir).ok(&["list"]);
    assert_eq!(mode(&dir), 0o700);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}

/// Runs `command` with the test stop point `point`, waits on its stderr
/// until it says it stopped there, and SIGKILLs it.
fn killed_at(mut command: std::process::Command, point: &str) {
    use std::io::BufRead;
    let mut child = command
        .env("DANVAN_TEST_STOP_AT", point)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let stopped = std::io::BufReader::new(stderr)
        .lines()
        .any(|line| line.unwrap().contains(&format!("dừng tại {point}")));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(stopped, "the command ended before {point}");
}

#[test]
fn encrypt_converts_a_plaintext_store_and_a_kill_at_any_point_loses_nothing() {
    for point in ["exported", "synced", "renamed"] {
        let tmp = TempDir::new("encrypt");
        let dv = Dv::at(&tmp.path().join("data"));
        run(&dv, true, &["init", "--unit", "pho-minh", "--plaintext"]);
        let mut add = PETITION.to_vec();
        add.push("--json");
        let ids: Vec<String> = (0..4)
            .map(|_| {
                let v: serde_json::Value = serde_json::from_str(&run(&dv, true, &add)).unwrap();
                v["id"].as_str().unwrap().to_string()
            })
            .collect();
        let db = dv.dir.join("danvan.db");
        assert!(holds(&db, CCCD) || holds(&dv.dir.join("danvan.db-wal"), CCCD));
        // SIGKILL at `point`.
        killed_at(dv.command(&["encrypt"]), point);
        let encrypted = danvan_store::cipher::is_encrypted(&db);
        assert_eq!(encrypted, point == "renamed", "{point}");
        // Plain or encrypted, the store opens whole with every record.
        for id in &ids {
            assert!(dv.ok(&["show", id]).contains(CITIZEN), "{point}: {id}");
        }
        assert_eq!(dv.json(&["check"])["ok"], true, "{point}");
        if !encrypted {
            dv.ok(&["encrypt"]);
            assert!(danvan_store::cipher::is_encrypted(&db));
            for id in &ids {
                assert!(dv.ok(&["show", id]).contains(CITIZEN), "{point}: {id}");
            }
        }
        assert!(!dv.dir.join("danvan.db.encrypting").exists());
        for file in ["danvan.db", "danvan.db-wal"] {
            assert!(
                !holds(&dv.dir.join(file), CCCD),
                "{point}: CCCD left in {file}"
            );
        }
        // Once encrypted, a second `encrypt` is refused and changes nothing.
        let out = dv.run(&["encrypt"]);
        assert_eq!(out.status.code(), Some(9));
        assert!(String::from_utf8_lossy(&out.stderr).contains("đã được mã hoá"));
    }
}

#[test]
fn an_old_releases_plaintext_store_is_encrypted_by_encrypt_with_every_record() {
    let kept = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/compat/0.1.0/node");
    let tmp = TempDir::new("encrypt-compat");
    let dir = tmp.path().join("node");
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["danvan.db", "node.key", "units.toml"] {
        std::fs::copy(kept.join(file), dir.join(file)).unwrap();
    }
    let dv = Dv::at(&dir);
    let before = dv.json(&["list"]);
    assert!(!before.as_array().unwrap().is_empty());
    dv.ok(&["encrypt"]);
    assert!(danvan_store::cipher::is_encrypted(&dir.join("danvan.db")));
    assert_eq!(dv.json(&["list"]), before, "every record after encrypt");
    assert_eq!(dv.json(&["check"])["ok"], true);
}

/// Runs `danvan passphrase` to the new passphrase in `new` on `dv` and kills
/// it just before the database is re-keyed.
pub(crate) fn passphrase_killed_before_rekey(dv: &Dv, new: &Path) {
    passphrase_killed_at(dv, new, "rekeying");
}

/// Runs `danvan passphrase` to the new passphrase in `new` on `dv` and kills
/// it at `point` (`rekeying`: before the database is re-keyed; `rekeyed`:
/// after, before the key files are sealed under the new key alone).
pub(crate) fn passphrase_killed_at(dv: &Dv, new: &Path, point: &str) {
    let mut command = dv.command(&["passphrase"]);
    command.env("DANVAN_NEW_PASSPHRASE_FILE", new);
    killed_at(command, point);
}

#[test]
fn passphrase_changes_the_key_and_the_old_one_no_longer_opens() {
    let (tmp, dv, id) = store_with_petition("rekey");
    let new = tmp.path().join("mat-khau-moi");
    std::fs::write(&new, "mật khẩu mới của xã 2027\n").unwrap();
    // Killed just before the rekey: still the old passphrase, whole.
    passphrase_killed_before_rekey(&dv, &new);
    assert!(dv.ok(&["show", &id]).contains(CITIZEN));
    crate::at_rest::change_passphrase(&dv, &new);
    // The suite's (old) passphrase is now wrong; the new one opens it.
    let old = dv.run(&["show", &id]);
    assert_eq!(old.status.code(), Some(9));
    let out = dv
        .command(&["show", &id])
        .env("DANVAN_PASSPHRASE_FILE", &new)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(CITIZEN));
    assert!(!holds(&dv.dir.join("danvan.db"), CCCD));
}

/// Runs `danvan passphrase` with the new passphrase read from `new`, and
/// asserts it succeeded.
pub(crate) fn change_passphrase(dv: &Dv, new: &Path) {
    let out = dv
        .command(&["passphrase"])
        .env("DANVAN_NEW_PASSPHRASE_FILE", new)
        .output()
        .unwrap();
    crate::harness::assert_succeeded(&out);
}

/// A fresh encrypted store of Phổ Minh in its own temporary directory,
/// holding one petition of [`CITIZEN`]: the directory, the store, the id.
fn store_with_petition(name: &str) -> (TempDir, Dv, String) {
    let tmp = TempDir::new(name);
    let dv = Dv::at(&tmp.path().join("data"));
    dv.ok(&["init", "--unit", "pho-minh"]);
    let id = dv.add(&PETITION);
    (tmp, dv, id)
}
