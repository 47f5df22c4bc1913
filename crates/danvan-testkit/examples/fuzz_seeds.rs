//! Writes the starting inputs of every fuzz target into `DIR/<target>/`
//! (by `scripts/fuzz.sh`, into `fuzz/corpus/`). Usage: `fuzz_seeds DIR`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus".into()),
    );
    for (i, (target, bytes)) in danvan_testkit::fuzz_targets::seeds().iter().enumerate() {
        let target_dir = dir.join(target);
        std::fs::create_dir_all(&target_dir)?;
        std::fs::write(target_dir.join(format!("seed-{i:02}")), bytes)?;
    }
    Ok(())
}
