//! Command-line arguments: `microroot-init [-v] [--config PATH] [-- ARGV...]`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Usage text for `--help` and usage errors.
pub const USAGE: &str = "\
usage: microroot-init [-v] [--config PATH] [-- COMMAND [ARG...]]

Runs COMMAND (or the config's argv) as a child, forwards signals to it,
reaps zombies and exits with its status. As PID 1 without /proc (a VM) it
also mounts the API file systems, loads modules, switches root, configures
the network and powers the VM off at the end.

options:
  --config PATH  read PATH instead of /etc/microroot/init.conf
  -v, --verbose  log what init does (in a VM: microroot.debug on the kernel command line)
  -h, --help     print this help
  -V, --version  print the version
";

/// Parsed arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    /// `--config PATH`: a config that must exist (without it a missing
    /// default config is fine).
    pub config: Option<String>,
    /// Everything after `--`: replaces the config's argv.
    pub argv: Option<Vec<String>>,
    /// `-v`: verbose logs.
    pub verbose: bool,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run init.
    Run(Args),
    /// `--help`.
    Help,
    /// `--version`.
    Version,
}

impl Args {
    /// Parses the arguments after `argv[0]`. With `strict` false (VM mode,
    /// where the kernel passes unknown bare words of its command line to
    /// init) unknown words are skipped instead of being an error.
    pub fn parse(args: &[String], strict: bool) -> Result<Command, String> {
        let mut parsed = Args::default();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            match arg.as_str() {
                "--" => {
                    parsed.argv = Some(rest.cloned().collect());
                    break;
                }
                "-v" | "--verbose" => parsed.verbose = true,
                "-h" | "--help" if strict => return Ok(Command::Help),
                "-V" | "--version" if strict => return Ok(Command::Version),
                "--config" => match rest.next() {
                    Some(path) => parsed.config = Some(path.clone()),
                    None => return Err(String::from("--config needs a path")),
                },
                other => match other.strip_prefix("--config=") {
                    Some(path) => parsed.config = Some(String::from(path)),
                    None if strict => {
                        return Err(format!("unexpected argument {other:?}; put the command after `--`"));
                    }
                    None => {}
                },
            }
        }
        Ok(Command::Run(parsed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn parses_options_and_command() {
        let got = Args::parse(&strings(&["-v", "--config", "/c", "--", "sh", "-c", "--config x"]), true);
        let want = Args { config: Some("/c".into()), argv: Some(strings(&["sh", "-c", "--config x"])), verbose: true };
        assert_eq!(got, Ok(Command::Run(want)));
        let got = Args::parse(&strings(&["--config=/d"]), true);
        assert_eq!(got, Ok(Command::Run(Args { config: Some("/d".into()), ..Args::default() })));
        assert_eq!(
            Args::parse(&strings(&["--"]), true),
            Ok(Command::Run(Args { argv: Some(vec![]), ..Args::default() }))
        );
        assert_eq!(Args::parse(&strings(&["--help"]), true), Ok(Command::Help));
        assert_eq!(Args::parse(&strings(&["-V"]), true), Ok(Command::Version));
    }

    #[test]
    fn strict_rejects_stray_words_and_lenient_skips_them() {
        assert!(Args::parse(&strings(&["sh"]), true).unwrap_err().contains("after `--`"));
        assert!(Args::parse(&strings(&["--config"]), true).unwrap_err().contains("needs a path"));
        let got = Args::parse(&strings(&["single", "--help", "--", "/bin/sh"]), false);
        assert_eq!(got, Ok(Command::Run(Args { argv: Some(strings(&["/bin/sh"])), ..Args::default() })));
    }
}
