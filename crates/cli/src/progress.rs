//! Progress on a terminal: a spinner for phases and one bar for downloads.
//! Silent when stderr is not a terminal or with --quiet.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Bars {
    multi: MultiProgress,
    phase: ProgressBar,
    downloads: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    pub fn new(quiet: bool) -> Bars {
        let visible = !quiet && std::io::stderr().is_terminal();
        let target = if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let multi = MultiProgress::with_draw_target(target);
        let phase = multi.add(ProgressBar::new_spinner());
        phase.set_style(ProgressStyle::with_template("{spinner} {prefix:>9} {msg}").expect("static template"));
        phase.enable_steady_tick(Duration::from_millis(100));
        Bars { multi, phase, downloads: Mutex::new(HashMap::new()) }
    }

    pub fn finish(&self) {
        self.phase.finish_and_clear();
        let _ = self.multi.clear();
    }

    fn bar_style() -> ProgressStyle {
        let color = std::env::var_os("NO_COLOR").is_none();
        let template = if color {
            "  {prefix:>9} {wide_msg} {bytes:>10}/{total_bytes:10} {bar:24.cyan/blue}"
        } else {
            "  {prefix:>9} {wide_msg} {bytes:>10}/{total_bytes:10} {bar:24}"
        };
        ProgressStyle::with_template(template).expect("static template").progress_chars("=> ")
    }
}

impl microroot_fetch::Reporter for Bars {
    fn download_start(&self, name: &str, total: Option<u64>) {
        let bar = self.multi.add(ProgressBar::new(total.unwrap_or(0)));
        bar.set_style(Bars::bar_style());
        bar.set_prefix("get");
        bar.set_message(name.to_owned());
        self.downloads.lock().expect("not poisoned").insert(name.to_owned(), bar);
    }

    fn download_progress(&self, name: &str, bytes: u64) {
        if let Some(bar) = self.downloads.lock().expect("not poisoned").get(name) {
            bar.set_position(bytes);
        }
    }

    fn download_done(&self, name: &str, _from_cache: bool) {
        if let Some(bar) = self.downloads.lock().expect("not poisoned").remove(name) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }

    fn download_failed(&self, name: &str, error: &microroot_fetch::Error) {
        self.download_done(name, false);
        let _ = self.multi.println(format!("  failed {name}: {}", error.summary()));
    }

    fn retry(&self, name: &str, attempt: u32, reason: &str) {
        let _ = self.multi.println(format!("   retry {name} (attempt {attempt}): {reason}"));
    }
}

impl microroot_image::Progress for Bars {
    fn phase(&self, phase: &str, detail: &str) {
        self.phase.set_prefix(phase.to_owned());
        self.phase.set_message(detail.to_owned());
        tracing::info!("{phase}: {detail}");
    }
}
