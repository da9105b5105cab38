//! What `payfault explore` shows while it runs: a bar on a terminal, plain
//! lines every ten seconds otherwise.

use std::io::IsTerminal;

/// Seeds done, seeds per second and failures: a bar on a terminal, a plain
/// line every ten seconds otherwise.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    began: std::time::Instant,
    state: std::cell::Cell<(u64, u64, u64)>,
}

impl Progress {
    pub fn new(total: Option<u64>) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match total {
                Some(total) => indicatif::ProgressBar::new(total),
                None => indicatif::ProgressBar::no_length(),
            };
            let template = if total.is_some() {
                "{elapsed_precise} [{bar:30}] {pos}/{len} seeds, {per_sec}, {msg}"
            } else {
                "{elapsed_precise} {pos} seeds, {per_sec}, {msg}"
            };
            bar.set_style(
                indicatif::ProgressStyle::with_template(template)
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_message("0 failed");
            bar
        });
        Progress {
            bar,
            began: std::time::Instant::now(),
            state: std::cell::Cell::new((0, 0, 0)),
        }
    }

    pub fn seed(&self, passed: bool) {
        let (done, failed, last_line_s) = self.state.get();
        let (done, failed) = (done + 1, failed + u64::from(!passed));
        let elapsed_s = self.began.elapsed().as_secs();
        let mut line_s = last_line_s;
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(format!("{failed} failed"));
            }
            None if elapsed_s >= last_line_s + 10 => {
                line_s = elapsed_s;
                eprintln!(
                    "{done} seeds, {failed} failed, {:.1} seeds/s",
                    done as f64 / self.began.elapsed().as_secs_f64().max(1e-9)
                );
            }
            None => {}
        }
        self.state.set((done, failed, line_s));
    }

    pub fn println(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
