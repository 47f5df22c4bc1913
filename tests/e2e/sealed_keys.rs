//! The node key and the authority key at rest (issue 14, item 1): sealed
//! under a key derived from the store key when the store is encrypted,
//! plaintext on a `--plaintext` store until `danvan encrypt` seals them,
//! kept readable by `danvan passphrase`, and carried by backup and restore.

use std::path::Path;

use danvan_model::NodeKey;
use danvan_store::cipher::{Kdf, StoreKey};
use danvan_store::sealed_key;

use crate::harness::{Dv, PASSPHRASE, TempDir, plaintext};
use crate::loss::town_and_officer;
use crate::sync::node_id;

/// The store key of `dir` under `passphrase` (its `danvan.kdf`).
fn store_key(dir: &Path, passphrase: &str) -> StoreKey {
    Kdf::read(dir).unwrap().derive(passphrase).unwrap()
}

/// The secret of the sealed key file `name` of `dv`, opened under the
/// suite's passphrase (a test that signs as that key by hand).
pub(crate) fn unsealed_secret(dv: &Dv, name: &str) -> [u8; 32] {
    let bytes = std::fs::read(dv.dir.join(name)).unwrap();
    sealed_key::unseal(&store_key(&dv.dir, PASSPHRASE), &bytes).unwrap()
}

/// Asserts the key file `name` of `dv` is sealed: not the plaintext format
/// (64 hex digits), its secret neither in its bytes nor as hex, and it
/// opens under the store key of `passphrase` to the key whose id is
/// `expect_id`. Returns the file's bytes.
fn check_sealed(dv: &Dv, name: &str, passphrase: &str, expect_id: Option<&str>) -> Vec<u8> {
    let bytes = std::fs::read(dv.dir.join(name)).unwrap();
    assert!(sealed_key::is_sealed(&bytes), "{name} is not sealed");
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !(text.trim().len() == 64 && text.trim().chars().all(|c| c.is_ascii_hexdigit())),
        "{name} is still 64 hex digits"
    );
    let secret = sealed_key::unseal(&store_key(&dv.dir, passphrase), &bytes)
        .unwrap_or_else(|e| panic!("{name} does not open under the store key: {e:?}"));
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!text.contains(&hex), "{name} holds its secret as hex");
    assert!(
        !bytes.windows(32).any(|w| w == secret),
        "{name} holds its secret in clear"
    );
    assert!(
        sealed_key::unseal(&StoreKey::from_bytes([0; 32]), &bytes).is_err(),
        "{name} opens under another key"
    );
    if let Some(id) = expect_id {
        assert_eq!(NodeKey::from_secret(secret).id().to_string(), id);
    }
    bytes
}

#[test]
fn an_encrypted_stores_key_files_are_sealed_and_it_still_signs_and_syncs() {
    let (town, _hub, minh) = town_and_officer();
    check_sealed(&town, "node.key", PASSPHRASE, Some(&node_id(&town)));
    check_sealed(&town, "authority.key", PASSPHRASE, None);
    check_sealed(&minh, "node.key", PASSPHRASE, Some(&node_id(&minh)));
    // The officer signs a record and the hub (whose roster the sealed
    // authority key signed) accepts it over a sync.
    let id = minh.activity("tuyen-truyen", "2025-03-02", "Khoá đã mã hoá");
    let said = minh.ok(&["sync"]);
    let at_town = town.ok(&["show", &id]);
    assert!(
        at_town.contains("Khoá đã mã hoá"),
        "{id} not at the hub: {at_town}\n{said}"
    );
    // The sealed authority key still signs rosters.
    signs_a_roster(&town);
}

#[test]
fn encrypt_seals_a_plaintext_stores_keys_and_passphrase_keeps_them_readable() {
    let tmp = TempDir::new("keys-encrypt");
    let dv = Dv::at(&tmp.path().join("data"));
    let out =
        plaintext(&mut dv.command(&["init", "--authority", "--unit", "duc-pho", "--plaintext"]))
            .output()
            .unwrap();
    crate::harness::assert_succeeded(&out);
    let plain = std::fs::read_to_string(dv.dir.join("node.key")).unwrap();
    assert_eq!(plain.trim().len(), 64, "a plaintext store keeps hex keys");
    let id = String::from_utf8(plaintext(&mut dv.command(&["id"])).output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string();

    dv.ok(&["encrypt"]);
    check_sealed(&dv, "node.key", PASSPHRASE, Some(&id));
    check_sealed(&dv, "authority.key", PASSPHRASE, None);
    assert_eq!(node_id(&dv), id);

    // A wrong passphrase: "sai mật khẩu", exit 9, the key files untouched.
    let wrong = tmp.path().join("sai");
    std::fs::write(&wrong, "không phải mật khẩu này\n").unwrap();
    let node_key = std::fs::read(dv.dir.join("node.key")).unwrap();
    let new = tmp.path().join("moi");
    std::fs::write(&new, "mật khẩu mới của thị xã\n").unwrap();
    let out = dv
        .command(&["passphrase"])
        .env("DANVAN_PASSPHRASE_FILE", &wrong)
        .env("DANVAN_NEW_PASSPHRASE_FILE", &new)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(9), "{err}");
    assert!(err.contains("sai mật khẩu"), "{err}");
    assert_eq!(std::fs::read(dv.dir.join("node.key")).unwrap(), node_key);

    // A new passphrase: the key files re-sealed under it alone.
    crate::at_rest::change_passphrase(&dv, &new);
    let new_pass = "mật khẩu mới của thị xã";
    let bytes = check_sealed(&dv, "node.key", new_pass, Some(&id));
    check_sealed(&dv, "authority.key", new_pass, None);
    assert!(
        sealed_key::unseal(&store_key(&dv.dir, PASSPHRASE), &bytes).is_err(),
        "the old passphrase no longer opens the node key"
    );
    let out = dv
        .command(&["roster", "show", "--json"])
        .env("DANVAN_PASSPHRASE_FILE", &new)
        .output()
        .unwrap();
    crate::harness::assert_succeeded(&out);
    let out = dv
        .command(&["id"])
        .env("DANVAN_PASSPHRASE_FILE", &new)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id);
}

#[test]
fn backup_and_restore_carry_the_sealed_keys() {
    let town = Dv::init_with("keys-backup", &["--authority", "--unit", "duc-pho"]);
    let id = node_id(&town);
    let file = town.dir.with_file_name("town.dvbak");
    let file_arg = file.to_str().unwrap();
    town.ok(&["backup", "--out", file_arg]);
    let tmp = TempDir::new("keys-restore");
    let restored = Dv::at(&tmp.path().join("data"));
    restored.ok(&["restore", file_arg]);
    check_sealed(&restored, "node.key", PASSPHRASE, Some(&id));
    check_sealed(&restored, "authority.key", PASSPHRASE, None);
    assert_eq!(node_id(&restored), id);
    signs_a_roster(&restored);
}

#[test]
fn a_passphrase_change_killed_before_the_rekey_leaves_keys_both_passphrases_open() {
    let tmp = TempDir::new("keys-rekey-kill");
    let dv = Dv::at(&tmp.path().join("data"));
    dv.ok(&["init", "--unit", "pho-minh"]);
    let id = node_id(&dv);
    let new = tmp.path().join("moi");
    let new_pass = "mật khẩu mới sau sự cố";
    std::fs::write(&new, format!("{new_pass}\n")).unwrap();
    crate::at_rest::passphrase_killed_before_rekey(&dv, &new);
    // The store is still under the old passphrase; the key files open
    // under it and under the new one, whichever the rekey would have left.
    check_sealed(&dv, "node.key", PASSPHRASE, Some(&id));
    check_sealed(&dv, "node.key", new_pass, Some(&id));
    assert_eq!(
        node_id(&dv),
        id,
        "the old passphrase still opens everything"
    );
    // That open finished the interrupted change the way it went: the key
    // files under the old passphrase alone, the new one opens none.
    let bytes = check_sealed(&dv, "node.key", PASSPHRASE, Some(&id));
    assert_eq!(sealed_key::slots(&bytes), 1);
    assert!(sealed_key::unseal(&store_key(&dv.dir, new_pass), &bytes).is_err());
    dv.ok(&[
        "activity",
        "add",
        "--type",
        "tuyen-truyen",
        "--date",
        "2025-03-02",
        "--title",
        "Sau sự cố",
    ]);
}

#[test]
fn a_passphrase_change_killed_after_the_rekey_is_finished_by_the_next_open_under_the_new_one() {
    let tmp = TempDir::new("keys-rekeyed-kill");
    let dv = Dv::at(&tmp.path().join("data"));
    dv.ok(&["init", "--authority", "--unit", "duc-pho"]);
    let id = node_id(&dv);
    let new = tmp.path().join("moi");
    let new_pass = "mật khẩu mới đã đổi xong";
    std::fs::write(&new, format!("{new_pass}\n")).unwrap();
    crate::at_rest::passphrase_killed_at(&dv, &new, "rekeyed");
    let names = ["node.key", "authority.key"];
    let old_key = store_key(&dv.dir, PASSPHRASE);
    // The crash left the database under the new passphrase and the key
    // files still sealed under the old one too.
    for name in names {
        let bytes = std::fs::read(dv.dir.join(name)).unwrap();
        assert_eq!(sealed_key::slots(&bytes), 2, "{name}");
    }
    // The old passphrase opens nothing.
    let out = dv.run(&["id"]);
    assert_eq!(out.status.code(), Some(9), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("sai mật khẩu"));
    // The next open under the new one finishes the change: every key file
    // under the new key alone, the old key opens none of them.
    let with_new = |args: &[&str]| {
        let out = dv
            .command(args)
            .env("DANVAN_PASSPHRASE_FILE", &new)
            .output()
            .unwrap();
        crate::harness::assert_succeeded(&out);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(with_new(&["id"]).trim(), id);
    for name in names {
        let bytes = check_sealed(&dv, name, new_pass, None);
        assert_eq!(sealed_key::slots(&bytes), 1, "{name}");
        assert_eq!(
            sealed_key::unseal(&old_key, &bytes),
            Err(sealed_key::UnsealError::WrongKey),
            "{name} still opens under the old passphrase"
        );
    }
    assert_eq!(
        check_sealed(&dv, "node.key", new_pass, Some(&id)),
        std::fs::read(dv.dir.join("node.key")).unwrap()
    );
    // The authority key still signs under the new passphrase.
    signs_a_roster_by(|args| {
        with_new(args);
    });
}

/// `dv`'s authority key still signs: a new officer added to its roster.
fn signs_a_roster(dv: &Dv) {
    signs_a_roster_by(|args| {
        dv.ok(args);
    });
}

/// Adds a new officer to the roster through `run` (which asserts success).
fn signs_a_roster_by(run: impl Fn(&[&str])) {
    let other = Dv::init("pho-ninh");
    run(&[
        "roster",
        "add",
        &node_id(&other),
        "--unit",
        "pho-ninh",
        "--role",
        "officer",
    ]);
}
