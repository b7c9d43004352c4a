//! `microroot push`.

use std::process::ExitCode;

use anyhow::Result;

use crate::args::{Global, PushArgs};

pub fn push(args: PushArgs, global: &Global) -> Result<ExitCode> {
    let access = microroot_image::base::RegistryAccess { insecure: global.insecure.clone() };
    let started = std::time::Instant::now();
    let report = microroot_image::push::push(&args.image, &args.reference, args.from.as_deref(), &access)?;
    if global.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    if !global.quiet {
        for blob in &report.blobs {
            eprintln!("  {:<9} {}  {}", blob.outcome, blob.digest, microroot_image::report::human(blob.bytes));
        }
        eprintln!("pushed in {:.1}s", started.elapsed().as_secs_f64());
    }
    println!("{}@{}", report.reference, report.digest);
    Ok(ExitCode::SUCCESS)
}
