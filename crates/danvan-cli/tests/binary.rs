//! The `danvan` binary itself, run as a user runs it.
//!
//! Besides what it checks, this test makes `cargo test --workspace` build the
//! binary with the workspace's feature set, which is the build the e2e harness
//! (`tests/e2e/harness.rs`) asks for and then finds already made.

use std::process::Command;

use danvan_testkit::TempDir;

fn danvan(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_danvan"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("DANVAN_DATA_DIR")
        .env_remove("DANVAN_TODAY")
        .output()
        .expect("run danvan")
}

#[test]
fn a_missing_or_empty_data_directory_is_named_with_what_to_run() {
    let tmp = TempDir::new("cli-binary");
    let cases = [
        (tmp.path().join("khong-co"), "không có thư mục dữ liệu"),
        (tmp.path().to_path_buf(), "chưa được khởi tạo"),
    ];
    for (dir, said) in cases {
        let out = danvan(&dir, &["list"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(said), "{stderr}");
        assert!(stderr.contains(&dir.display().to_string()), "{stderr}");
        assert!(stderr.contains("init --unit"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    // Neither run created anything.
    assert!(!tmp.path().join("khong-co").exists());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}
