//! Replays every saved fuzz input (`fuzz/corpus/`, `fuzz/artifacts/`,
//! `fuzz/regressions/`, one directory per target) and the built-in seeds
//! through the very target functions the fuzzer runs, on stable, without
//! the fuzzer. A crash the fuzzer once found stays fixed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use danvan_testkit::fuzz_targets::{TARGETS, Target, seeds, target};

#[test]
fn every_saved_fuzz_input_replays_without_failure() {
    let fuzz_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut inputs: Vec<(String, Target, Vec<u8>)> = Vec::new();
    for kind in ["corpus", "artifacts", "regressions"] {
        for (name, file) in saved_inputs(&fuzz_dir.join(kind)) {
            let run = target(&name)
                .unwrap_or_else(|| panic!("{} is not the directory of a fuzz target", name));
            let bytes = std::fs::read(&file).expect("reading a saved fuzz input");
            inputs.push((file.display().to_string(), run, bytes));
        }
    }
    let saved = inputs.len();
    assert!(
        saved > 0,
        "no saved fuzz input under {}",
        fuzz_dir.display()
    );
    // Every target keeps a corpus, so that each is replayed here.
    let corpus = saved_inputs(&fuzz_dir.join("corpus"));
    for (name, _) in TARGETS {
        assert!(
            corpus.iter().any(|(t, _)| t == name),
            "fuzz target {name} has no corpus in fuzz/corpus/{name}/ (scripts/fuzz.sh {name} 60 seeds it)"
        );
    }
    for (i, (name, bytes)) in seeds().into_iter().enumerate() {
        let run = target(name).expect("seeds name known targets");
        inputs.push((format!("seed {i} of {name}"), run, bytes));
    }
    let failures: Vec<String> = inputs
        .iter()
        .filter(|(_, run, bytes)| catch_unwind(AssertUnwindSafe(|| run(bytes))).is_err())
        .map(|(name, _, _)| name.clone())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} fuzz inputs fail: {failures:#?}",
        failures.len(),
        inputs.len()
    );
    eprintln!("replayed {saved} saved fuzz inputs and the seeds");
}

/// `(target, file)` for every file in `dir/<target>/`, dotfiles aside.
fn saved_inputs(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(targets) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for target_dir in targets.map(|e| e.expect("listing fuzz inputs").path()) {
        let name = target_dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a target directory name is UTF-8")
            .to_string();
        for file in std::fs::read_dir(&target_dir).expect("listing a target's inputs") {
            let file = file.expect("listing a target's inputs").path();
            let hidden = file
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if file.is_file() && !hidden {
                out.push((name.clone(), file));
            }
        }
    }
    out.sort();
    out
}
