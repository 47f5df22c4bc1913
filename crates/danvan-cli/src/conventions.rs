//! `danvan completions SHELL` and `danvan man [--out DIR]`: what a command
//! line tool is expected to ship, generated from the same Vietnamese command
//! tree `--help` shows (`clap_vi::command`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::ValueEnum;

use crate::clap_vi;

/// The shells `danvan completions` writes a script for.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Shell {
    /// bash: `danvan completions bash > /etc/bash_completion.d/danvan`
    Bash,
    /// zsh: vào một thư mục trong $fpath, tên tệp `_danvan`
    Zsh,
    /// fish: `~/.config/fish/completions/danvan.fish`
    Fish,
    /// PowerShell: chạy trong $PROFILE
    Powershell,
}

/// Writes the completion script of `shell` to stdout.
pub(crate) fn completions(shell: Shell) -> Result<()> {
    use clap_complete::Shell as S;
    let shell = match shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Powershell => S::PowerShell,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut clap_vi::command(), "danvan", &mut out);
    crate::write_stdout(&out)
}

/// The manual pages: `danvan.1` on stdout, or with `out` one page per
/// command (`danvan.1`, `danvan-household-add.1`, …) written into that
/// directory; returns the files written.
pub(crate) fn man(out: Option<&Path>) -> Result<Vec<PathBuf>> {
    let cmd = clap_vi::command();
    let Some(dir) = out else {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut page)
            .context("không tạo được trang man")?;
        crate::write_stdout(&page)?;
        return Ok(Vec::new());
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("không tạo được thư mục {}", dir.display()))?;
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    write_pages(&cmd, dir, &mut written)
        .with_context(|| format!("không ghi được trang man vào {}", dir.display()))?;
    Ok(written)
}

fn write_pages(cmd: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        write_pages(sub, dir, written)?;
    }
    written.push(clap_mangen::Man::new(cmd.clone()).generate_to(dir)?);
    Ok(())
}
