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
    /// Speak plain HTTP to this registry (HOST or HOST:PORT) for bases and pushes (repeatable)
    #[arg(long, global = true, value_name = "HOST")]
    pub insecure: Vec<String>,
    /// Packages unpacked and compressor threads at once (default: one per core); outputs are the same for any number
    #[arg(
        short,
        long,
        global = true,
        env = "MICROROOT_JOBS",
        value_name = "N",
        default_value_t = 0,
        hide_default_value = true
    )]
    pub jobs: usize,
    /// MiB of file content held in memory; beyond it, contents go to a temporary file in the cache directory
    #[arg(long, global = true, env = "MICROROOT_MEMORY_BUDGET", value_name = "MIB", default_value_t = microroot_image::build::DEFAULT_MEMORY_BUDGET >> 20)]
    pub memory_budget: u64,
    /// Do not keep decoded package data in the cache (it takes 3–4× the .debs' space; rebuilds then decompress every package)
    #[arg(long, global = true, env = "MICROROOT_NO_DECODED_CACHE", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_decoded_cache: bool,
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
    /// Show what is in an output (tar, cpio or ext4) and what takes the space
    Inspect(InspectArgs),
    /// Compare two outputs: packages and files added, removed and changed
    Diff(DiffArgs),
    /// Push an OCI image (layout, oci-archive or docker-archive) to a registry
    Push(PushArgs),
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
#[command(after_help = "Examples:\n  \
    microroot inspect out/dist/rootfs.tar.xz\n  \
    microroot inspect out/dist/rootfs.ext4 --top 30 --html report.html\n  \
    microroot --json inspect out/dist/initramfs.cpio.zst\n\n\
    The format is recognized by content: tar, newc cpio (concatenated archives too) or ext4, \
    plain or compressed with gzip, xz or zstd.")]
pub struct InspectArgs {
    /// An output: rootfs.tar[.gz|.xz|.zst], initramfs.cpio[.gz|.xz|.zst] or rootfs.ext4
    #[arg(value_name = "IMAGE")]
    pub archive: PathBuf,
    /// Also list every entry
    #[arg(long)]
    pub entries: bool,
    /// How many rows of each table
    #[arg(long, default_value_t = 15)]
    pub top: usize,
    /// Also write a self-contained HTML page with a treemap and the tables
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Sort::Size, hide = true)]
    pub sort: Sort,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Sort {
    Size,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    microroot diff old/rootfs.tar.xz new/rootfs.tar.xz\n  \
    microroot diff out/dist/rootfs.tar.zst out/dist/rootfs.ext4   # formats may differ\n  \
    microroot --json diff a.tar.xz b.tar.xz | jq .same\n\n\
    The exit status is 0 whether or not the images differ (non-zero only for errors); \
    use --json and its `same` field to branch on a difference. Not compared: mtimes, \
    the root directory's header, xattrs when one side is cpio, /lost+found when one side is ext4.")]
pub struct DiffArgs {
    /// The old output (tar, cpio or ext4)
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The new output (tar, cpio or ext4)
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Also write a self-contained HTML page: B's treemap with the changes highlighted
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    microroot push out/dist/image.oci registry.example/team/app:1.0\n  \
    microroot push --insecure 127.0.0.1:5000 out/dist/image.oci.tar 127.0.0.1:5000/app:dev\n\n\
    Logins come from $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json or ~/.docker/config.json.")]
pub struct PushArgs {
    /// The image: an OCI layout directory, an oci-archive or a docker-archive
    pub image: PathBuf,
    /// Where to: REGISTRY/REPOSITORY:TAG (tag `latest` when omitted)
    pub reference: String,
    /// Mount blobs from this repository of the same registry instead of uploading them
    #[arg(long, value_name = "REPOSITORY")]
    pub from: Option<String>,
}
