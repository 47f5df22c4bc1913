//! `danvan-bench`: the one benchmark command of danvan. It measures, through
//! the real code paths (a `danvan_node::Node` on a real SQLite file), every
//! figure an issue sets a target for, and prints one table: figure, value,
//! unit, target, and whether the target is met.
//!
//! ```text
//! cargo run --release -p danvan-bench -- all            # every group, full sizes
//! cargo run --release -p danvan-bench -- all --quick    # reduced sizes, well under 3 minutes
//! cargo run --release -p danvan-bench -- store --json   # one group, table as JSON
//! ```
//!
//! Benchmarks are grouped by area. A group is one module with a function
//! `run(&Options) -> Result<Vec<Figure>, BenchError>`, registered in
//! [`GROUPS`]; its name becomes a subcommand and `all` runs it too.
//!
//! Progress goes to stderr, the table to stdout. The process exits non-zero
//! when a benchmark fails to run, never because a target is missed: a missed
//! target is a finding, shown in the `met` column.
//!
//! This crate never runs in production and is never published; nothing
//! depends on it.

mod corpus;
mod erasure;
mod figure;
mod http;
mod link;
mod load_group;
mod measure;
mod province;
mod province_seed;
mod sample;
mod signature;
mod store;
mod sync;
mod sync_wire;
mod web;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches};

use figure::{Figure, print_json, print_table};

/// What any benchmark can fail with: the message says which step failed and why.
pub(crate) type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// A group of benchmarks of one area.
struct Group {
    /// Subcommand name.
    name: &'static str,
    /// One line for `--help`.
    about: &'static str,
    /// Runs the group's benchmarks and returns its figures.
    run: fn(&Options) -> Result<Vec<Figure>, BenchError>,
}

/// Every group, in the order `all` runs them. Adding a group is adding its
/// module and one line here.
const GROUPS: &[Group] = &[
    Group {
        name: "store",
        about: "record store: durable add, CSV import, list and search, bytes per record",
        run: store::run,
    },
    Group {
        name: "sync",
        about: "sync over QUIC on loopback: idle, one change, cold sync, hub memory",
        run: sync::run,
    },
    Group {
        name: "link",
        about: "cold sync over an emulated 2G EDGE link: wall time against bytes ÷ bandwidth",
        run: link::run,
    },
    Group {
        name: "signature",
        about: "change signatures: verify and sign per second, share of the wire bytes",
        run: signature::run,
    },
    Group {
        name: "load",
        about: "hub under load: hundreds of nodes at once, then all back after a power cut",
        run: load_group::run,
    },
    Group {
        name: "province",
        about: "province hub: many records, many nodes, a power cut, the report over every unit",
        run: province::run,
    },
    Group {
        name: "erasure",
        about: "erasure: what `erase` leaves in history, and compaction's cost and what it breaks",
        run: erasure::run,
    },
    Group {
        name: "web",
        about: "web app: server time of the main pages and first-load bytes at 100,000 records",
        run: web::run,
    },
];

/// Options every group receives.
#[derive(Args, Clone, Debug)]
pub(crate) struct Options {
    /// Reduced sizes: the whole run takes well under three minutes
    #[arg(long, global = true)]
    pub(crate) quick: bool,
    /// Print the table as JSON instead of text
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Directory under which the benchmark's data directories are created
    /// (and removed afterwards). It must be on the disk being measured:
    /// fsync on tmpfs costs nothing. Default: the system temp directory
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// Keep the data directories instead of removing them, to inspect them
    #[arg(long, global = true)]
    pub(crate) keep: bool,
    /// sync: only the figures on the wire between real processes (a hub
    /// process, node processes, a counting relay), skipping the rest
    #[arg(long, global = true)]
    pub(crate) wire_only: bool,
    /// Every store encrypted (SQLCipher) with one random key, to compare
    /// with a run without it (the cost of encryption at rest)
    #[arg(long, global = true)]
    pub(crate) encrypted: bool,
    /// province: records at the hub (default 100,000; 2,000 with --quick);
    /// link: records of the cold sync (default 10,000; 1,000 with --quick)
    /// sync --wire-only: records of the cold sync between real processes
    /// (default 10,000)
    #[arg(long, global = true, value_name = "N")]
    pub(crate) records: Option<usize>,
    /// province: commune nodes on the roster (default 100; 10 with --quick)
    #[arg(long, global = true, value_name = "M")]
    pub(crate) nodes: Option<usize>,
    /// link: the seed of the relay's loss and jitter (default 1). One seed
    /// is one loss pattern; run several to see the spread
    #[arg(long, global = true, value_name = "S", default_value_t = 1)]
    pub(crate) seed: u64,
    /// link: cold syncs over this many relay seeds, from `--seed` on; the
    /// target is on the median of their ratios (default 1)
    #[arg(long, global = true, value_name = "N", default_value_t = 1)]
    pub(crate) seeds: u64,
}

#[derive(clap::Parser)]
#[command(
    name = "danvan-bench",
    about = "Benchmarks of danvan: one table of figures against their targets"
)]
struct Cli {
    #[command(flatten)]
    options: Options,
}

fn command() -> clap::Command {
    let mut cmd = Cli::command()
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(clap::Command::new("all").about("Run every group"));
    for group in GROUPS {
        cmd = cmd.subcommand(clap::Command::new(group.name).about(group.about));
    }
    cmd
}

fn main() -> ExitCode {
    let matches = command().get_matches();
    let Some((name, sub)) = matches.subcommand() else {
        unreachable!("clap requires a subcommand");
    };
    // Global options given after the subcommand are only in its matches.
    let options = match Cli::from_arg_matches(sub) {
        Ok(cli) => cli.options,
        Err(e) => e.exit(),
    };
    if options.encrypted {
        match danvan_store::cipher::StoreKey::random() {
            Ok(key) => danvan_store::cipher::set_process_key(key),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
        eprintln!("every store encrypted (SQLCipher, one random key)");
    }
    let selected: Vec<&Group> = GROUPS
        .iter()
        .filter(|g| name == "all" || g.name == name)
        .collect();
    let mut figures = Vec::new();
    let mut failed = Vec::new();
    for group in selected {
        eprintln!("== {} ==", group.name);
        match (group.run)(&options) {
            Ok(found) => figures.extend(found),
            Err(e) => {
                eprintln!("error: benchmark group {:?} failed: {e}", group.name);
                failed.push(group.name);
            }
        }
    }
    if options.json {
        print_json(&figures, options.quick, &failed);
    } else {
        print_table(&figures);
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "error: benchmark groups that failed to run: {}",
            failed.join(", ")
        );
        ExitCode::FAILURE
    }
}
