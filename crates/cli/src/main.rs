//! The `microroot` command: parses flags, runs the library, prints.

mod args;
mod print;
mod progress;
mod push;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{CommandFactory, Parser};

use args::{AccelArg, BuildArgs, Cli, Command, DiffArgs, Global, InitArgs, InspectArgs, LockArgs, RunArgs};
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
        Command::Run(args) => run_vm(args, &cli.global),
        Command::Inspect(args) => inspect(args, &cli.global),
        Command::Diff(args) => diff(args, &cli.global),
        Command::Push(args) => push::push(args, &cli.global),
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
        insecure: global.insecure.clone(),
        resources: microroot_image::Resources {
            jobs: global.jobs,
            memory_budget: global.memory_budget << 20,
            keep_decoded: !global.no_decoded_cache,
        },
        progress: bars,
    })
}

fn build(args: BuildArgs, global: &Global) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let report = run_build(global, args.manifest, args.arch, args.out, args.locked, args.offline)?;
    print::build_report(&report, started.elapsed(), global.json)?;
    Ok(ExitCode::SUCCESS)
}

/// One build with progress bars (off with -q or --json).
fn run_build(
    global: &Global,
    manifest: Option<PathBuf>,
    arch: Option<String>,
    out: PathBuf,
    locked: bool,
    offline: bool,
) -> Result<microroot_image::report::BuildReport> {
    let bars = Arc::new(progress::Bars::new(global.quiet || global.json));
    let mut opts = options(global, manifest, arch, bars.clone())?;
    opts.out_dir = out;
    opts.locked = locked;
    opts.offline = offline;
    let result = microroot_image::build(&opts);
    bars.finish();
    Ok(result?)
}

/// `microroot run`: build (unless boot files are given), boot, and exit
/// with the app's status.
fn run_vm(args: RunArgs, global: &Global) -> Result<ExitCode> {
    use microroot_image::boot::{cmdline, cmdline_for, QEMU_NET};
    let stop = microroot_vm::Stop::new();
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.flag()).context("cannot install signal handlers")?;
    }
    let mut forwards = args.publish.clone();
    let (kernel, initrd, disk, cmd, memory, cpus) = match &args.kernel {
        Some(kernel) => {
            if args.initrd.is_none() && args.disk.is_none() {
                bail!("--kernel needs --initrd, --disk or both\nhint: microroot build writes them into out/dist/");
            }
            let cmd = cmdline_for(args.disk.is_some(), &QEMU_NET, None);
            (kernel.clone(), args.initrd.clone(), args.disk.clone(), cmd, 256, 1)
        }
        None => {
            let manifest = args.manifest.clone().unwrap_or_else(|| PathBuf::from("microroot.toml"));
            if !manifest.exists() {
                bail!(
                    "{} does not exist\nhint: name a manifest with an ext4 or cpio output, e.g. `microroot run examples/nginx.toml`",
                    manifest.display()
                );
            }
            let loaded = microroot_image::build::load(Some(&manifest), None)?;
            let m = &loaded.manifest;
            if !m.is_vm() {
                bail!(
                    "{}: nothing to boot: output.formats has no ext4 or cpio output\nhint: add formats = [\"ext4\", \"cpio.zst\"] under [output]",
                    manifest.display()
                );
            }
            let started = std::time::Instant::now();
            let report = run_build(global, Some(manifest.clone()), None, args.out.clone(), args.locked, args.offline)?;
            let find =
                |pred: &dyn Fn(&str) -> bool| report.outputs.iter().find(|o| pred(&o.format)).map(|o| o.path.clone());
            // The ELF kernel boots through PVH without decompressing itself.
            let kernel = find(&|f| f == "vmlinux")
                .or_else(|| find(&|f| f == "vmlinuz"))
                .context("the build wrote no kernel (vmlinux, vmlinuz)")?;
            let initrd = find(&|f| f.starts_with("cpio") && f != "cpio-list");
            let disk = find(&|f| f == "ext4");
            if !global.quiet {
                let what = if report.up_to_date { "up to date" } else { "built" };
                eprintln!("{} {what} in {:.1}s; booting", report.image, started.elapsed().as_secs_f64());
            }
            forwards.extend(m.vm.ports.iter().filter_map(|p| microroot_image::validate::parse_port_forward(p)));
            let mut cmd = cmdline(m, &QEMU_NET);
            if disk.is_some() && initrd.is_none() {
                // A kernel without the virtio modules built in cannot mount it.
                tracing::warn!("booting rootfs.ext4 without an initramfs: the kernel must have virtio_blk built in");
            }
            cmd = cmd.trim().to_owned();
            (kernel, initrd, disk, cmd, m.vm.memory, m.vm.cpus)
        }
    };
    let cmdline = match args.append.as_deref() {
        Some(extra) => format!("{cmd} {extra}"),
        None => cmd,
    };
    let spec = microroot_vm::VmSpec {
        kernel,
        initrd,
        disk,
        cmdline,
        memory_mib: args.memory.unwrap_or(memory),
        cpus: args.cpus.unwrap_or(cpus),
        forwards,
        timeout: args.timeout.map(std::time::Duration::from_secs),
        accel: match args.accel {
            AccelArg::Auto => microroot_vm::Accel::Auto,
            AccelArg::Kvm => microroot_vm::Accel::Kvm,
            AccelArg::Tcg => microroot_vm::Accel::Tcg,
        },
        qemu: std::env::var_os("MICROROOT_QEMU").map(PathBuf::from),
        forward_stdin: true,
    };
    let console: Arc<std::sync::Mutex<dyn Write + Send>> = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let outcome = microroot_vm::run(&spec, console, &stop)?;
    if let (Some(reason), false) = (&outcome.kvm_fallback, global.quiet) {
        eprintln!("note: KVM does not work here ({reason}); the guest ran under TCG");
    }
    Ok(ExitCode::from(u8::try_from(outcome.status).unwrap_or(255)))
}

fn inspect(args: InspectArgs, global: &Global) -> Result<ExitCode> {
    use microroot_image::inspect::{html, load, Inspection};
    let image = load(&args.archive)?;
    let report = Inspection::of(&image);
    if let Some(page) = &args.html {
        write_html(page, &html::inspect_page(&image, &report, args.top), global.quiet)?;
    }
    print::inspection(&report, &args, global.json)?;
    Ok(ExitCode::SUCCESS)
}

/// `microroot diff`: exits 0 whether or not the images differ.
fn diff(args: DiffArgs, global: &Global) -> Result<ExitCode> {
    use microroot_image::inspect::{html, load};
    let (a, b) = (load(&args.a)?, load(&args.b)?);
    let diff = microroot_image::diff::diff(&a, &b);
    if let Some(page) = &args.html {
        write_html(page, &html::diff_page(&diff, &b), global.quiet)?;
    }
    print::diff(&diff, global.json)?;
    Ok(ExitCode::SUCCESS)
}

fn write_html(path: &std::path::Path, page: &str, quiet: bool) -> Result<()> {
    std::fs::write(path, page).with_context(|| format!("cannot write {}", path.display()))?;
    if !quiet {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
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
