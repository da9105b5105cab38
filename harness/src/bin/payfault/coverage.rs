//! `payfault coverage` and the coverage lines of `payfault explore`: the
//! catalogue of marks, how often a budget of seeds or the library hit
//! each, and which were never hit.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use payfault::cover::{Counts, Mark};

/// `payfault coverage`.
#[derive(Debug, clap::Args)]
pub struct CoverageArgs {
    /// Explore this many generated seeds and count how often each mark was hit.
    #[arg(long)]
    seeds: Option<u64>,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Worker threads for --seeds (default: every core). Counts do not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    /// Also run the scenario files under PATH (repeatable) and count their hits.
    #[arg(long, value_name = "PATH")]
    library: Vec<PathBuf>,
    /// Exit 1 naming every mark that neither the seeds nor the library hit (but those listed as not reached yet).
    #[arg(long)]
    require: bool,
}

/// List the marks, or count them over seeds and the library.
pub fn coverage(args: &CoverageArgs) -> Result<ExitCode> {
    let mut columns: Vec<(String, Counts)> = Vec::new();
    if let Some(seeds) = args.seeds {
        let options = payfault::explore::ExploreOptions {
            jobs: args.jobs.unwrap_or_else(payfault::explore::default_jobs),
            ..payfault::explore::ExploreOptions::seeds(args.start, seeds)
        };
        let summary = payfault::explore::explore(&options, |_| {})?;
        columns.push((format!("{} seeds", summary.seeds), summary.coverage));
    }
    if !args.library.is_empty() {
        let library = payfault::mutants::load_library(&args.library).map_err(anyhow::Error::msg)?;
        let counts = payfault::run::library_coverage(&library)?;
        columns.push((format!("{} scenarios", library.len()), counts));
    }
    let mut stdout = std::io::stdout().lock();
    if columns.is_empty() {
        writeln!(stdout, "{:<50} {:<9} MEANING", "MARK", "SITE")?;
        for mark in Mark::ALL {
            writeln!(
                stdout,
                "{:<50} {:<9} {}",
                mark.name(),
                mark.site(),
                mark.meaning()
            )?;
        }
        writeln!(stdout, "{} marks", Mark::ALL.len())?;
        if args.require {
            anyhow::bail!("--require needs --seeds or --library: nothing was counted");
        }
        return Ok(ExitCode::SUCCESS);
    }
    write!(stdout, "{}", table(&columns))?;
    for (label, counts) in &columns {
        writeln!(stdout, "{}", summary_line(label, counts))?;
    }
    let mut all = Counts::default();
    for (_, counts) in &columns {
        all.add(counts);
    }
    stdout.flush()?;
    Ok(if args.require {
        require(&all)
    } else {
        ExitCode::SUCCESS
    })
}

/// The end of `payfault explore`: the table of hits (with `table_too`),
/// the summary line, and with `required` exit 1 naming the marks never
/// hit.
pub fn explored(summary: &payfault::explore::Summary, table_too: bool, required: bool) -> ExitCode {
    let label = format!("{} seeds", summary.seeds);
    if table_too {
        print!("{}", table(&[(label.clone(), summary.coverage.clone())]));
    }
    println!("{}", summary_line(&label, &summary.coverage));
    if required {
        require(&summary.coverage)
    } else {
        ExitCode::SUCCESS
    }
}

/// Each mark's hits per column, then its meaning.
fn table(columns: &[(String, Counts)]) -> String {
    let mut text = format!("{:<50} {:<9}", "MARK", "SITE");
    for (label, _) in columns {
        text.push_str(&format!(" {:>13}", label.to_uppercase()));
    }
    text.push_str("  MEANING\n");
    for mark in Mark::ALL {
        text.push_str(&format!("{:<50} {:<9}", mark.name(), mark.site()));
        for (_, counts) in columns {
            text.push_str(&format!(" {:>13}", counts.get(*mark)));
        }
        text.push_str(&format!("  {}\n", mark.meaning()));
    }
    text
}

/// `coverage (LABEL): H of N marks hit; never hit (K): a, b`.
fn summary_line(label: &str, counts: &Counts) -> String {
    let never = counts.never_hit();
    let mut line = format!(
        "coverage ({label}): {} of {} marks hit",
        counts.marks_hit(),
        Mark::ALL.len()
    );
    if never.is_empty() {
        line.push_str("; every mark hit");
    } else {
        line.push_str(&format!("; never hit ({}): {}", never.len(), names(&never)));
    }
    line
}

/// Exit 1 naming the marks never hit, except those on
/// [`payfault::cover::NOT_REACHED_YET`] (listed with their reasons, and any
/// of them that was hit named as belonging off the list); 0 otherwise.
fn require(counts: &Counts) -> ExitCode {
    let (excused, never): (Vec<Mark>, Vec<Mark>) = counts
        .never_hit()
        .into_iter()
        .partition(|mark| mark.not_reached_yet().is_some());
    let reached: Vec<Mark> = payfault::cover::NOT_REACHED_YET
        .iter()
        .map(|(mark, _)| *mark)
        .filter(|mark| counts.get(*mark) > 0)
        .collect();
    for mark in &excused {
        let why = mark.not_reached_yet().expect("partitioned on it");
        println!("not reached yet: {mark} ({})", why.reason());
    }
    if !reached.is_empty() {
        println!(
            "reached, though listed as not reached yet (take them off cover::NOT_REACHED_YET): {}",
            names(&reached)
        );
    }
    if never.is_empty() {
        println!(
            "coverage required: every mark hit but the {} not reached yet",
            excused.len()
        );
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "coverage required: {} of {} marks never hit: {}",
        never.len(),
        Mark::ALL.len(),
        names(&never)
    );
    ExitCode::from(1)
}

fn names(marks: &[Mark]) -> String {
    marks
        .iter()
        .map(|mark| mark.name())
        .collect::<Vec<_>>()
        .join(", ")
}
