//! clap in Vietnamese: the help headings, the `-h`/`-V` flags, the `help`
//! subcommand and the parse errors. clap writes "Usage:", "Options:" and its
//! errors in English with no switch for another language, so the command
//! tree is rewritten once after derive builds it, and errors are rendered
//! here from their kind and context (clap's suggestion kept).
//!
//! A parse error exits 1 ("bad input or usage", as in the README's table),
//! not clap's 2, which danvan uses for "not found".

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory, FromArgMatches};

use crate::Cli;

/// The exit code of a command line clap could not read.
pub(crate) const EXIT_USAGE: i32 = 1;

/// The help page layout: clap's default with a Vietnamese usage heading.
const TEMPLATE: &str =
    "{before-help}{about-with-newline}\nCách dùng: {usage}\n\n{all-args}{after-help}";
const HEADING_ARGS: &str = "Đối số";
const HEADING_OPTIONS: &str = "Tùy chọn";
const HEADING_COMMANDS: &str = "Lệnh";

/// The `danvan` command tree with Vietnamese headings, flags and `help`.
pub(crate) fn command() -> Command {
    let cmd = localize(Cli::command()).disable_version_flag(true).arg(
        Arg::new("version")
            .short('V')
            .long("version")
            .action(ArgAction::Version)
            .help("In phiên bản")
            .help_heading(HEADING_OPTIONS),
    );
    cmd.subcommand(
        Command::new("help")
            .about("In trợ giúp của danvan hoặc của một lệnh")
            .disable_help_flag(true)
            .help_template(TEMPLATE)
            .arg(
                Arg::new("command")
                    .num_args(0..)
                    .value_name("LỆNH")
                    .help("Lệnh cần xem, ví dụ: household add")
                    .help_heading(HEADING_ARGS),
            ),
    )
}

fn localize(cmd: Command) -> Command {
    let mut cmd = cmd
        .help_template(TEMPLATE)
        .subcommand_help_heading(HEADING_COMMANDS)
        .subcommand_value_name("LỆNH")
        .disable_help_flag(true)
        .disable_help_subcommand(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("In trợ giúp"),
        )
        .mut_args(|arg| {
            let arg = vietnamese_value_name(arg);
            let arg = hints_in_help(arg);
            if arg.get_help_heading().is_some() {
                arg
            } else if arg.is_positional() {
                arg.help_heading(HEADING_ARGS)
            } else {
                arg.help_heading(HEADING_OPTIONS)
            }
        });
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, localize);
    }
    cmd
}

/// The placeholder help shows for a value (`<MÃ>`, not `<ID>`), for the
/// values that many commands take; the others keep their option's name,
/// and a name the code gave (`NGÀY`) is kept.
fn vietnamese_value_name(arg: Arg) -> Arg {
    let derived = [arg.get_id().as_str().to_uppercase()];
    let given = arg.get_value_names().is_some_and(|names| {
        names
            .iter()
            .map(|n| n.as_str())
            .ne(derived.iter().map(String::as_str))
    });
    if given || !arg.get_action().takes_values() {
        return arg;
    }
    let name = match arg.get_id().as_str() {
        "id" => "MÃ",
        "node_id" => "MÃ_NÚT",
        "task" => "NHIỆM_VỤ",
        "file" | "out" | "csv" => "TỆP",
        "data_dir" => "THƯ_MỤC",
        "date" | "received" | "due" | "today" => "NGÀY",
        "unit" | "assign" => "ĐƠN_VỊ",
        "period" => "KỲ",
        "kind" => "LOẠI",
        "stage" => "GIAI_ĐOẠN",
        "status" => "TRẠNG_THÁI",
        "addr" | "listen" | "hub" | "web" => "ĐỊA_CHỈ",
        "name" => "TÊN",
        "invite" => "LỜI_MỜI",
        "sets" => "TRƯỜNG=GIÁ_TRỊ",
        "format" => "DẠNG",
        "limit" => "SỐ",
        "shell" => "SHELL",
        _ => return arg,
    };
    arg.value_name(name)
}

/// clap appends `[env: …]`, `[default: …]` and `[possible values: …]` in
/// English; the help says them in Vietnamese instead.
fn hints_in_help(arg: Arg) -> Arg {
    let mut help = arg.get_help().map(ToString::to_string).unwrap_or_default();
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .filter(|v| !v.is_empty())
        .collect();
    let flag = !arg.get_action().takes_values();
    if !defaults.is_empty() && !flag {
        help.push_str(&format!(" [mặc định: {}]", defaults.join(", ")));
    }
    let possible: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    if !possible.is_empty() && !flag {
        help.push_str(&format!(" [giá trị: {}]", possible.join(", ")));
    }
    if let Some(env) = arg.get_env() {
        help.push_str(&format!(" [biến môi trường {}]", env.to_string_lossy()));
    }
    if arg.get_help().is_none() && help.is_empty() {
        return arg;
    }
    let arg = arg.hide_env(true).help(help.trim_start().to_string());
    if flag {
        arg
    } else {
        arg.hide_default_value(true).hide_possible_values(true)
    }
}

/// Reads the command line; prints help, the version or a Vietnamese error
/// and exits when that is what it asks for or holds.
pub(crate) fn parse() -> Cli {
    let mut cmd = command();
    let matches = cmd
        .try_get_matches_from_mut(std::env::args_os())
        .unwrap_or_else(|err| exit_on(&err));
    if let Some(("help", sub)) = matches.subcommand() {
        print_help_of(&mut cmd, sub);
    }
    Cli::from_arg_matches(&matches).unwrap_or_else(|err| exit_on(&err))
}

/// `danvan help [LỆNH…]`: the help of that command, or an error naming the
/// word that is no command.
fn print_help_of(cmd: &mut Command, sub: &ArgMatches) -> ! {
    // Built, each subcommand knows its full name ("danvan household visit").
    cmd.build();
    let words: Vec<&String> = sub
        .get_many::<String>("command")
        .map(Iterator::collect)
        .unwrap_or_default();
    let mut at = cmd;
    for word in words {
        match at.find_subcommand_mut(word) {
            Some(next) => at = next,
            None => {
                eprintln!("lỗi: không có lệnh '{word}'\n\nXem các lệnh: danvan --help");
                std::process::exit(EXIT_USAGE);
            }
        }
    }
    print!("{}", plain_help(at.render_help().to_string()));
    std::process::exit(0);
}

/// clap's usage placeholders in Vietnamese.
fn plain_help(text: String) -> String {
    text.replace("[OPTIONS]", "[TÙY_CHỌN]")
        .replace("<COMMAND>", "<LỆNH>")
}

fn exit_on(err: &clap::Error) -> ! {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            print!("{}", plain_help(err.render().to_string()));
            std::process::exit(0);
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{}", plain_help(err.render().to_string()));
            std::process::exit(EXIT_USAGE);
        }
        _ => {
            eprintln!("{}", message(err));
            std::process::exit(EXIT_USAGE);
        }
    }
}

/// A parse error in Vietnamese: what is wrong, clap's suggestion, the usage.
pub(crate) fn message(err: &clap::Error) -> String {
    let text = |kind| match err.get(kind) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(", "),
        Some(ContextValue::StyledStr(s)) => s.to_string(),
        Some(ContextValue::StyledStrs(v)) => v
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        Some(ContextValue::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let arg = text(ContextKind::InvalidArg);
    let value = text(ContextKind::InvalidValue);
    let mut out = match err.kind() {
        ErrorKind::UnknownArgument => format!("lỗi: không có tùy chọn '{arg}'"),
        ErrorKind::InvalidSubcommand => format!(
            "lỗi: không có lệnh '{}'",
            text(ContextKind::InvalidSubcommand)
        ),
        ErrorKind::MissingRequiredArgument => format!("lỗi: thiếu đối số bắt buộc: {arg}"),
        ErrorKind::MissingSubcommand => "lỗi: thiếu lệnh".to_string(),
        ErrorKind::InvalidValue if value.is_empty() => format!("lỗi: '{arg}' cần một giá trị"),
        ErrorKind::InvalidValue => {
            let valid = text(ContextKind::ValidValue);
            let mut m = format!("lỗi: giá trị '{value}' không hợp lệ cho '{arg}'");
            if !valid.is_empty() {
                m.push_str(&format!(" (dùng: {valid})"));
            }
            m
        }
        ErrorKind::ValueValidation => format!(
            "lỗi: giá trị '{value}' không hợp lệ cho '{arg}': {}",
            why_invalid(err)
        ),
        ErrorKind::ArgumentConflict => format!(
            "lỗi: '{arg}' không dùng cùng với '{}'",
            text(ContextKind::PriorArg)
        ),
        ErrorKind::NoEquals => format!("lỗi: '{arg}' cần dấu '=' trước giá trị"),
        ErrorKind::TooManyValues => format!("lỗi: thừa giá trị '{value}' cho '{arg}'"),
        ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            format!("lỗi: '{arg}' không đủ giá trị")
        }
        ErrorKind::InvalidUtf8 => "lỗi: đối số không phải văn bản UTF-8".to_string(),
        _ => format!(
            "lỗi: dòng lệnh không đúng ({})",
            err.kind().as_str().unwrap_or("?")
        ),
    };
    for (kind, what) in [
        (ContextKind::SuggestedSubcommand, "lệnh"),
        (ContextKind::SuggestedArg, "tùy chọn"),
        (ContextKind::SuggestedValue, "giá trị"),
    ] {
        let suggested = text(kind);
        if !suggested.is_empty() {
            out.push_str(&format!("\n\n  gợi ý: có phải {what} '{suggested}'?"));
        }
    }
    if let Some(ContextValue::StyledStr(usage)) = err.get(ContextKind::Usage) {
        let usage = usage.to_string();
        let usage = usage.trim().trim_start_matches("Usage:").trim();
        out.push_str(&format!("\n\nCách dùng: {}", plain_help(usage.to_string())));
    }
    out.push_str("\n\nXem thêm: --help");
    out
}

/// Why a value did not parse, in Vietnamese for the parsers danvan uses.
fn why_invalid(err: &clap::Error) -> String {
    let Some(source) = std::error::Error::source(err) else {
        return "không đọc được".to_string();
    };
    if source.is::<std::num::ParseIntError>() {
        "cần một số nguyên".to_string()
    } else if source.is::<std::net::AddrParseError>() {
        "cần địa chỉ IP:CỔNG, ví dụ 192.168.1.10:7420".to_string()
    } else {
        source.to_string()
    }
}

/// Every argument and subcommand in `cmd`'s tree that has no help text,
/// as "danvan household add --head".
#[cfg(test)]
fn without_help(cmd: &Command) -> Vec<String> {
    fn walk(cmd: &Command, path: &str, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            if arg.get_help().is_none() && !arg.is_hide_set() {
                let name = arg
                    .get_long()
                    .map(|l| format!("--{l}"))
                    .unwrap_or_else(|| arg.get_id().to_string());
                out.push(format!("{path} {name}"));
            }
        }
        for sub in cmd.get_subcommands() {
            let sub_path = format!("{path} {}", sub.get_name());
            if sub.get_about().is_none() {
                out.push(sub_path.clone());
            }
            walk(sub, &sub_path, out);
        }
    }
    let mut out = Vec::new();
    walk(cmd, cmd.get_name(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rewritten_tree_passes_clap_checks() {
        command().debug_assert();
    }

    #[test]
    fn every_argument_and_subcommand_has_help() {
        let missing = without_help(&command());
        assert!(
            missing.is_empty(),
            "{} without help:\n{}",
            missing.len(),
            missing.join("\n")
        );
    }

    #[test]
    fn errors_are_vietnamese_with_the_suggestion() {
        let err = command()
            .try_get_matches_from(["danvan", "show", "abc", "--jsn"])
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownArgument);
        let m = message(&err);
        assert!(m.contains("không có tùy chọn '--jsn'"), "{m}");
        assert!(m.contains("--json"), "{m}");
        assert!(m.contains("Cách dùng: danvan show"), "{m}");
        let err = command()
            .try_get_matches_from(["danvan", "sycn"])
            .unwrap_err();
        let m = message(&err);
        assert!(
            m.contains("không có lệnh 'sycn'") && m.contains("'sync'"),
            "{m}"
        );
        let err = command()
            .try_get_matches_from(["danvan", "activity", "add", "--attendance", "x"])
            .unwrap_err();
        assert!(
            message(&err).contains("cần một số nguyên"),
            "{}",
            message(&err)
        );
        let err = command()
            .try_get_matches_from(["danvan", "show"])
            .unwrap_err();
        assert!(
            message(&err).contains("thiếu đối số bắt buộc"),
            "{}",
            message(&err)
        );
    }
}
