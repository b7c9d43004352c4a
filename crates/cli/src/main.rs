//! The `microroot` command: parses flags, runs the library, prints.

mod args;
mod print;
mod progress;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{CommandFactory, Parser};

use args::{BuildArgs, Cli, Command, Global, InitArgs, LockArgs};
use microroot_image::manifest::{DEFAULT_EXCLUDES, DEFAULT_MANIFEST};
use microroot_image::BuildOptions;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            let mut text = format!("error: {err}");
            for cause in err.chain().skip(1) {
                // Library messages often embed their source already.
                let cause = cause.to_string();
                if !text.contains(&cause) {
                    text.push_str(&format!("\n  caused by: {cause}"));
                }
            }
            eprintln!("{text}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // -v raises only microroot's own crates; MICROROOT_LOG takes full
    // EnvFilter syntax for anything else.
    let ours = ["microroot", "microroot_image", "microroot_debian", "microroot_fetch", "microroot_writers"];
    let default = std::iter::once("warn".to_owned()).chain(ours.iter().map(|c| format!("{c}={level}")));
    let filter = tracing_subscriber::EnvFilter::try_from_env("MICROROOT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default.collect::<Vec<_>>().join(",")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none())
        .without_time()
        .init();
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Build(args) => build(args, &cli.global),
        Command::Init(args) => init(args, cli.global.quiet),
        Command::Lock(args) => lock(args, &cli.global),
        Command::Inspect(args) => {
            let report = microroot_image::inspect::inspect(&args.archive)?;
            print::inspection(&report, &args, cli.global.json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "microroot", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { out } => man(out),
    }
}

fn options(
    global: &Global,
    manifest: Option<PathBuf>,
    arch: Option<String>,
    bars: Arc<progress::Bars>,
) -> Result<BuildOptions> {
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => Some(
            v.trim().parse::<i64>().with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds"))?,
        ),
        Err(_) => None,
    };
    Ok(BuildOptions {
        manifest,
        out_dir: PathBuf::from("out/dist"),
        arch,
        locked: false,
        offline: false,
        cache_dir: global.cache_dir.clone(),
        source_date_epoch,
        progress: bars,
    })
}

fn build(args: BuildArgs, global: &Global) -> Result<ExitCode> {
    let bars = Arc::new(progress::Bars::new(global.quiet || global.json));
    let mut opts = options(global, args.manifest, args.arch, bars.clone())?;
    opts.out_dir = args.out;
    opts.locked = args.locked;
    opts.offline = args.offline;
    let started = std::time::Instant::now();
    let result = microroot_image::build(&opts);
    bars.finish();
    let report = result?;
    print::build_report(&report, started.elapsed(), global.json)?;
    Ok(ExitCode::SUCCESS)
}

fn init(args: InitArgs, quiet: bool) -> Result<ExitCode> {
    if args.show_defaults {
        let mut out = std::io::stdout().lock();
        for pattern in DEFAULT_EXCLUDES {
            writeln!(out, "{pattern}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.path.exists() && !args.force {
        bail!("{} already exists\nhint: pass --force to overwrite it", args.path.display());
    }
    std::fs::write(&args.path, DEFAULT_MANIFEST).with_context(|| format!("cannot write {}", args.path.display()))?;
    if !quiet {
        eprintln!("wrote {}; build it with `microroot build {}`", args.path.display(), args.path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn lock(args: LockArgs, global: &Global) -> Result<ExitCode> {
    let bars = Arc::new(progress::Bars::new(global.quiet || global.json));
    let opts = options(global, Some(args.manifest), args.arch, bars.clone())?;
    let result = microroot_image::build::lock(&opts);
    bars.finish();
    let (path, lock) = result?;
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "lockfile": path, "packages": lock.packages.len(), "release_date": lock.source.date })
            )?
        );
    } else {
        println!(
            "locked {} packages from {} ({} {}) in {}",
            lock.packages.len(),
            lock.source.suite,
            lock.source.codename,
            lock.source.version,
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn man(out: PathBuf) -> Result<ExitCode> {
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    clap_mangen::generate_to(Cli::command(), &out)
        .with_context(|| format!("cannot write man pages into {}", out.display()))?;
    eprintln!("wrote man pages into {}", out.display());
    Ok(ExitCode::SUCCESS)
}
