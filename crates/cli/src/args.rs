//! Command-line flags, parsed by clap. Only plain values live here; `main`
//! turns them into library options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "microroot",
    version,
    about = "Build minimal, verified, reproducible root filesystems from signed Debian packages",
    long_about = "Build minimal, verified, reproducible root filesystems from signed Debian packages.\n\n\
                  No root, no chroot, no mount, no daemon: packages are verified against the \
                  suite's signed InRelease, unpacked in memory and written as deterministic archives.",
    after_help = "Run `microroot build` with no arguments to build the glibc + BusyBox base image into out/dist/."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: Global,
}

#[derive(Debug, Args)]
pub struct Global {
    /// More log output on stderr (-v info, -vv debug, -vvv trace)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// No progress output
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print a JSON summary on stdout instead of tables
    #[arg(long, global = true)]
    pub json: bool,
    /// Cache directory (default: $XDG_CACHE_HOME/microroot)
    #[arg(long, global = true, env = "MICROROOT_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an image (the glibc + BusyBox base image when no manifest is given)
    Build(BuildArgs),
    /// Write a manifest to start from (the base image's, with comments)
    Init(InitArgs),
    /// Resolve the manifest and pin the result in microroot.lock beside it
    Lock(LockArgs),
    /// Boot an image in QEMU: build the manifest's VM outputs, or boot given files
    Run(RunArgs),
    /// Show what is in a rootfs archive and what takes the space
    Inspect(InspectArgs),
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages
    Man {
        /// Directory to write microroot.1 and the subcommand pages into
        #[arg(long, default_value = "out/man", value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The manifest (default: the embedded base image)
    pub manifest: Option<PathBuf>,
    /// Where outputs go
    #[arg(long, short, default_value = "out/dist", value_name = "DIR")]
    pub out: PathBuf,
    /// Target Debian architecture (overrides image.arch)
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Build exactly what microroot.lock pins, or fail
    #[arg(long)]
    pub locked: bool,
    /// Use only the cache; fail if anything is missing
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    microroot run examples/nginx.toml -p 8080:80     # then: curl http://127.0.0.1:8080/\n  \
    microroot run --kernel out/dist/vmlinuz --initrd out/dist/initramfs.cpio.zst --disk out/dist/rootfs.ext4\n\n\
    The app's exit status becomes microroot's. Ctrl-C or SIGTERM shut the guest down cleanly.")]
pub struct RunArgs {
    /// The manifest to build and boot (needs an ext4 or cpio output)
    #[arg(conflicts_with_all = ["kernel"])]
    pub manifest: Option<PathBuf>,
    /// Where the build's outputs go
    #[arg(long, short, default_value = "out/dist", value_name = "DIR")]
    pub out: PathBuf,
    /// Use the lockfile exactly (see `build --locked`)
    #[arg(long)]
    pub locked: bool,
    /// Use only the cache
    #[arg(long)]
    pub offline: bool,
    /// Boot this kernel instead of building a manifest
    #[arg(long, value_name = "FILE")]
    pub kernel: Option<PathBuf>,
    /// Initramfs to boot with --kernel
    #[arg(long, value_name = "FILE", requires = "kernel")]
    pub initrd: Option<PathBuf>,
    /// Root disk (raw ext4) to attach as /dev/vda with --kernel
    #[arg(long, value_name = "FILE", requires = "kernel")]
    pub disk: Option<PathBuf>,
    /// Extra kernel command-line arguments
    #[arg(long, value_name = "ARGS")]
    pub append: Option<String>,
    /// Forward a TCP port: HOST:GUEST, bound to 127.0.0.1 (repeatable)
    #[arg(short = 'p', long = "publish", value_name = "HOST:GUEST", value_parser = parse_forward)]
    pub publish: Vec<(u16, u16)>,
    /// Guest memory in MiB (default: the manifest's vm.memory, else 256)
    #[arg(long, value_name = "MIB")]
    pub memory: Option<u32>,
    /// Virtual CPUs (default: the manifest's vm.cpus, else 1)
    #[arg(long, value_name = "N")]
    pub cpus: Option<u32>,
    /// Stop the guest after this many seconds
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Accelerator: KVM when it works here, else TCG
    #[arg(long, value_enum, default_value_t = AccelArg::Auto)]
    pub accel: AccelArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccelArg {
    Auto,
    Kvm,
    Tcg,
}

fn parse_forward(s: &str) -> Result<(u16, u16), String> {
    microroot_image::validate::parse_port_forward(s)
        .ok_or_else(|| format!("`{s}` is not HOST:GUEST with ports 1-65535, e.g. 8080:80"))
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the manifest
    #[arg(default_value = "microroot.toml")]
    pub path: PathBuf,
    /// Overwrite an existing file
    #[arg(long)]
    pub force: bool,
    /// Print the built-in path excludes and exit
    #[arg(long)]
    pub show_defaults: bool,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// The manifest
    #[arg(default_value = "microroot.toml")]
    pub manifest: PathBuf,
    /// Target Debian architecture (overrides image.arch)
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A rootfs tarball (.tar, .tar.gz, .tar.xz, .tar.zst)
    pub archive: PathBuf,
    /// Also list every entry
    #[arg(long)]
    pub entries: bool,
    /// How many rows of each table
    #[arg(long, default_value_t = 15)]
    pub top: usize,
    #[arg(long, value_enum, default_value_t = Sort::Size, hide = true)]
    pub sort: Sort,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Sort {
    Size,
}
