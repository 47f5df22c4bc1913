//! Install and upgrade (issue 16, item 8): `deploy/package.sh` makes the
//! release tarball and the .deb from the binary the tests already built (no
//! second build; the .deb installed, reinstalled and purged by the real
//! dpkg in a staging root), and `deploy/install.sh` from that tarball installs into a
//! staging root with the right modes, enables the hub, and enables a node
//! only once it has joined its town.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::access::enroll;
use crate::harness::{Dv, TempDir, danvan_bin};
use crate::sync::Server;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run the command");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{path:?}: {e}"))
        .permissions()
        .mode()
        & 0o7777
}

/// Runs `deploy/package.sh --fast` on the test build's binary into `out`;
/// returns (tarball, deb).
fn package(out: &Path) -> (PathBuf, PathBuf) {
    let printed = stdout(&run(Command::new("bash")
        .arg(repo().join("deploy/package.sh"))
        .arg("--binary")
        .arg(danvan_bin())
        .arg("--out")
        .arg(out)
        .arg("--fast")));
    let tarball = out.join(format!("danvan-{}-x86_64-linux.tar.gz", version()));
    let deb = out.join(format!("danvan_{}_amd64.deb", version()));
    assert!(printed.contains(tarball.file_name().unwrap().to_str().unwrap()));
    assert!(tarball.is_file() && deb.is_file(), "{printed}");
    (tarball, deb)
}

#[test]
fn the_tarball_and_the_deb_hold_what_an_install_needs_and_start_nothing() {
    let tmp = TempDir::new("package");
    let (tarball, deb) = package(&tmp.sub("dist"));

    let listing = stdout(&run(Command::new("tar").arg("-tvzf").arg(&tarball)));
    let top = format!("danvan-{}-x86_64-linux", version());
    let mut names: Vec<String> = listing
        .lines()
        .filter(|l| !l.starts_with('d'))
        .map(|l| l.split_whitespace().last().unwrap().to_string())
        .collect();
    names.sort();
    let expected: Vec<String> = [
        "LICENSE",
        "README.md",
        "bin/danvan",
        "deploy/backup.sh",
        "deploy/danvan-backup.service",
        "deploy/danvan-backup.timer",
        "deploy/danvan-hub.service",
        "deploy/danvan-node.service",
        "deploy/hub.env.example",
        "deploy/install.sh",
        "deploy/node.env.example",
    ]
    .iter()
    .map(|f| format!("{top}/{f}"))
    .collect();
    assert_eq!(names, expected, "{listing}");
    for executable in ["bin/danvan", "deploy/install.sh", "deploy/backup.sh"] {
        let line = listing
            .lines()
            .find(|l| l.ends_with(&format!("{top}/{executable}")))
            .unwrap();
        assert!(line.starts_with("-rwxr-xr-x 0/0"), "{line}");
    }

    let info = stdout(&run(Command::new("dpkg-deb").arg("--info").arg(&deb)));
    for field in [
        "Package: danvan".to_string(),
        format!("Version: {}", version()),
        "Architecture: amd64".to_string(),
    ] {
        assert!(info.contains(&field), "{info}");
    }
    let contents = stdout(&run(Command::new("dpkg-deb").arg("--contents").arg(&deb)));
    for (path, perms) in [
        ("./usr/bin/danvan", "-rwxr-xr-x root/root"),
        ("./usr/lib/danvan/backup.sh", "-rwxr-xr-x root/root"),
        (
            "./lib/systemd/system/danvan-hub.service",
            "-rw-r--r-- root/root",
        ),
        (
            "./lib/systemd/system/danvan-node.service",
            "-rw-r--r-- root/root",
        ),
        (
            "./lib/systemd/system/danvan-backup.service",
            "-rw-r--r-- root/root",
        ),
        (
            "./lib/systemd/system/danvan-backup.timer",
            "-rw-r--r-- root/root",
        ),
        ("./etc/danvan/hub.env", "-rw-r--r-- root/root"),
        ("./etc/danvan/node.env", "-rw-r--r-- root/root"),
        ("./usr/share/doc/danvan/copyright", "-rw-r--r-- root/root"),
    ] {
        let line = contents
            .lines()
            .find(|l| l.ends_with(path))
            .unwrap_or_else(|| panic!("{path} missing:\n{contents}"));
        assert!(line.starts_with(perms), "{line}");
    }
    assert!(!contents.contains("/usr/local"), "{contents}");

    // The units point at the package's paths.
    let root = tmp.sub("deb");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    let hub_unit =
        std::fs::read_to_string(root.join("lib/systemd/system/danvan-hub.service")).unwrap();
    assert!(
        hub_unit.contains("ExecStart=/usr/bin/danvan "),
        "{hub_unit}"
    );
    let backup_unit =
        std::fs::read_to_string(root.join("lib/systemd/system/danvan-backup.service")).unwrap();
    assert!(backup_unit.contains("ExecStart=/usr/lib/danvan/backup.sh "));
    assert!(backup_unit.contains("DANVAN_BIN=/usr/bin/danvan"));
    let packaged = stdout(&run(
        Command::new(root.join("usr/bin/danvan")).arg("--version")
    ));
    assert_eq!(packaged.trim(), format!("danvan {}", version()));

    // Control files: the env files are conffiles.
    let control = tmp.sub("control");
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap();
    assert_eq!(conffiles, "/etc/danvan/hub.env\n/etc/danvan/node.env\n");
    assert_eq!(mode(&control.join("postinst")), 0o755);
    dpkg_install_upgrade_purge(&tmp, &deb);
}

/// Installs the .deb with the real dpkg into a staging root (`--root`, the
/// maintainer scripts run with `DPKG_ROOT` set to it), installs it again
/// over an edited conffile, and purges it. The commands that would change
/// this machine — user creation, ownership, systemd — are replaced by
/// ones that only write down how they were called.
fn dpkg_install_upgrade_purge(tmp: &TempDir, deb: &Path) {
    let root = tmp.sub("dpkg-root");
    for dir in ["var/lib/dpkg/updates", "var/lib/dpkg/info"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    let bin = tmp.sub("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = tmp.sub("calls.log");
    for (name, exit) in [
        ("getent", 2),
        ("useradd", 0),
        ("chown", 0),
        ("systemctl", 0),
    ] {
        let stub = bin.join(name);
        std::fs::write(
            &stub,
            format!(
                "#!/bin/sh\necho \"{name} $*\" >> '{}'\nexit {exit}\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let dpkg = |args: &[&str]| {
        let mut cmd = Command::new("dpkg");
        // The staging root's dpkg database lists no libc6: not a missing
        // dependency of a real system.
        cmd.arg(format!("--root={}", root.display()))
            .args(["--force-script-chrootless", "--force-not-root"])
            .args(["--force-depends", "--log=/dev/null"])
            .args(args)
            .env("PATH", &path);
        stdout(&run(&mut cmd))
    };
    let deb = deb.to_str().unwrap();
    let said = dpkg(&["-i", deb]);
    assert!(said.contains("Dịch vụ chưa được bật"), "{said}");
    assert_eq!(mode(&root.join("usr/bin/danvan")), 0o755);
    for dir in ["var/lib/danvan", "var/backups/danvan"] {
        assert_eq!(mode(&root.join(dir)), 0o700, "{dir}");
    }
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(calls.contains("useradd --system"), "{calls}");
    assert!(calls.contains("chown danvan:danvan"), "{calls}");
    // The officer's edit of a conffile survives the next install.
    let env = root.join("etc/danvan/node.env");
    let edited = std::fs::read_to_string(&env).unwrap() + "DANVAN_HUB=10.0.0.1:7420\n";
    std::fs::write(&env, &edited).unwrap();
    let said = dpkg(&["-i", deb]);
    assert!(said.contains("nâng cấp"), "{said}");
    assert_eq!(std::fs::read_to_string(&env).unwrap(), edited);
    // A purge removes the program and keeps the data.
    dpkg(&["--purge", "danvan"]);
    assert!(!root.join("usr/bin/danvan").exists());
    assert!(root.join("var/lib/danvan").is_dir());
    // Nothing enabled or started a unit at any step.
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        !calls
            .lines()
            .any(|l| l.starts_with("systemctl") && (l.contains("enable") || l.contains("start"))),
        "{calls}"
    );
}

/// `install.sh` of the unpacked tarball, into the staging root `root`.
fn install(dir: &Path, root: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(dir.join("deploy/install.sh"))
        .arg("--destdir")
        .arg(root)
        .args(args)
        .env_remove("DANVAN_DATA_DIR");
    cmd.output().expect("run install.sh")
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "install.sh failed:\nstdout: {}\nstderr: {}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

#[test]
fn install_sh_installs_from_the_tarball_and_enables_a_node_only_once_joined() {
    let tmp = TempDir::new("install");
    let (tarball, _) = package(&tmp.sub("dist"));
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(tmp.path()));
    let unpacked = tmp.sub(&format!("danvan-{}-x86_64-linux", version()));

    // The repository has no prebuilt binary: install.sh says how to build
    // one as a normal user and compiles nothing.
    let from_repo = install(&repo(), &tmp.sub("nothing"), &["hub", "duc-pho"]);
    assert!(!from_repo.status.success());
    let said = String::from_utf8_lossy(&from_repo.stderr);
    assert!(
        said.contains("Không biên dịch bằng tài khoản root"),
        "{said}"
    );
    assert!(!tmp.sub("nothing/usr").exists());

    // The town hub: installed, initialized with the authority, enabled.
    let hub_root = tmp.sub("hub-root");
    let said = ok(install(&unpacked, &hub_root, &["hub", "duc-pho"]));
    assert!(said.contains("Đã bật dịch vụ danvan-hub"), "{said}");
    for (path, expected) in [
        ("usr/local/bin/danvan", 0o755),
        ("usr/local/lib/danvan/backup.sh", 0o755),
        ("etc/systemd/system/danvan-hub.service", 0o644),
        ("etc/systemd/system/danvan-backup.timer", 0o644),
        ("etc/danvan/hub.env", 0o644),
        ("var/lib/danvan", 0o700),
        ("var/backups/danvan", 0o700),
    ] {
        assert_eq!(mode(&hub_root.join(path)), expected, "{path}");
    }
    let wants = hub_root.join("etc/systemd/system/multi-user.target.wants");
    assert!(wants.join("danvan-hub.service").is_symlink());
    assert!(
        hub_root
            .join("etc/systemd/system/timers.target.wants/danvan-backup.timer")
            .is_symlink()
    );
    let town = Dv::at(&hub_root.join("var/lib/danvan/hub"));
    assert_eq!(town.json(&["roster", "show"])["version"], 1);

    // A commune node under another prefix: its unit is installed, not enabled.
    let node_root = tmp.sub("node-root");
    let prefix = ["--prefix", "/opt/danvan", "node", "pho-minh"];
    let said = ok(install(&unpacked, &node_root, &prefix));
    assert!(said.contains("chưa được bật"), "{said}");
    let unit = node_root.join("etc/systemd/system/danvan-node.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    assert!(
        text.contains("ExecStart=/opt/danvan/bin/danvan --data-dir"),
        "{text}"
    );
    assert_eq!(mode(&node_root.join("opt/danvan/bin/danvan")), 0o755);
    let backup = node_root.join("etc/systemd/system/danvan-backup.service");
    let backup = std::fs::read_to_string(backup).unwrap();
    assert!(
        backup.contains("ExecStart=/opt/danvan/lib/danvan/backup.sh ")
            && backup.contains("DANVAN_BIN=/opt/danvan/bin/danvan"),
        "{backup}"
    );
    let node_wants = node_root.join("etc/systemd/system/multi-user.target.wants");
    assert!(!node_wants.join("danvan-node.service").exists());

    // The officer edits the hub's address; the node joins the town; a second
    // install.sh keeps the edited file and now enables the node.
    let env = node_root.join("etc/danvan/node.env");
    let edited = std::fs::read_to_string(&env)
        .unwrap()
        .replace("203.0.113.5:7420", "127.0.0.1:7420");
    std::fs::write(&env, &edited).unwrap();
    let node = Dv::at(&node_root.join("var/lib/danvan/node"));
    let officer = ["--unit", "pho-minh", "--role", "officer"];
    enroll(&town, &Server::start(&town, &[]), &node, &officer);
    let said = ok(install(&unpacked, &node_root, &prefix));
    assert!(said.contains("Đã bật dịch vụ danvan-node"), "{said}");
    assert!(node_wants.join("danvan-node.service").is_symlink());
    assert_eq!(std::fs::read_to_string(&env).unwrap(), edited);
}
