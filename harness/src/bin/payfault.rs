//! The `payfault` command line: a thin layer over the library.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use payfault::node::Bug;
use payfault::{report, scenario, wire};

/// Deterministic fault-injection harness for card payments.
///
/// payfault runs a POS terminal, a payment switch and a bank together on a
/// simulated network, breaks things on purpose, and proves that no money was
/// lost or moved twice.
#[derive(Debug, Parser)]
#[command(name = "payfault", version, propagate_version = true)]
#[command(
    after_help = "Examples:\n  payfault run                      run every scenario under scenarios/\n  payfault wire decode --hex < msg.hex\n  echo '{\"t\":\"0800\",\"7\":\"1122093000\",\"11\":\"000001\",\"70\":\"301\"}' | payfault wire encode --hex"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenario files (default: every *.toml under scenarios/).
    #[command(
        after_help = "Exit status: 0 when every scenario passes, 1 when any fails, 2 on bad input.\n\nExamples:\n  payfault run\n  payfault run scenarios/c --bug switch-no-dedupe\n  payfault run scenarios/a/refund-retry.toml --seed 7 --json"
    )]
    Run(RunArgs),
    /// Encode and decode ISO 8583 messages (pyiso8583's default layout).
    #[command(subcommand)]
    Wire(WireCommand),
    /// List every named crash point a fault plan can crash a host at.
    CrashPoints,
    /// Run each generated seed twice and compare the trace hashes.
    Determinism {
        /// How many seeds.
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// First seed.
        #[arg(long, default_value_t = 0)]
        start: u64,
    },
    /// Rerun one generated seed and print its whole trace and verdict.
    Replay {
        /// The seed.
        seed: u64,
        /// Switch a planted bug on (repeatable).
        #[arg(long = "bug")]
        bugs: Vec<Bug>,
    },
    /// Run generated seeds (random workload and swarm faults) and check each.
    Explore {
        /// How many seeds.
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// First seed.
        #[arg(long, default_value_t = 0)]
        start: u64,
        /// Switch a planted bug on (repeatable).
        #[arg(long = "bug")]
        bugs: Vec<Bug>,
    },
    /// List the planted bugs that `--bug NAME` can switch on.
    Bugs {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Scenario files or folders (folders are searched for *.toml).
    #[arg(default_value = "scenarios")]
    paths: Vec<PathBuf>,
    /// Run with this seed instead of each file's.
    #[arg(long)]
    seed: Option<u64>,
    /// Switch a planted bug on in every node (repeatable; `payfault bugs`).
    #[arg(long = "bug", value_name = "NAME")]
    bugs: Vec<String>,
    /// Where to write the reports (Markdown and JSON per scenario).
    #[arg(long, default_value = "reports")]
    report_dir: PathBuf,
    /// Print one JSON object per scenario on stdout instead of lines.
    #[arg(long)]
    json: bool,
    /// Also write a JUnit XML file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum WireCommand {
    /// Read one raw message on stdin, print its fields as one JSON object.
    #[command(after_help = "Example:\n  printf '%s' 08002220000000000000... | payfault wire decode --hex")]
    Decode {
        /// Read hex text instead of raw bytes (whitespace is ignored).
        #[arg(long)]
        hex: bool,
        /// The input is a frame with a 2-byte length header.
        #[arg(long)]
        framed: bool,
    },
    /// Read one JSON object on stdin, write the encoded message on stdout.
    #[command(
        after_help = "Example:\n  echo '{\"t\":\"0800\",\"7\":\"1122093000\",\"11\":\"000001\",\"70\":\"301\"}' | payfault wire encode --hex"
    )]
    Encode {
        /// Write uppercase hex text instead of raw bytes.
        #[arg(long)]
        hex: bool,
        /// Prefix the message with its 2-byte length header.
        #[arg(long)]
        framed: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(&args),
        Command::Wire(WireCommand::Decode { hex, framed }) => wire_decode(hex, framed),
        Command::Wire(WireCommand::Encode { hex, framed }) => wire_encode(hex, framed),
        Command::Bugs { json } => list_bugs(json),
        Command::Explore { seeds, start, bugs } => explore(start, seeds, &bugs),
        Command::Replay { seed, bugs } => replay(seed, &bugs),
        Command::Determinism { seeds, start } => determinism(start, seeds),
        Command::CrashPoints => {
            for (kind, point) in payfault::node::all_crash_points() {
                println!("{point:<45} {kind}");
            }
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn color_stream(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

fn run(args: &RunArgs) -> Result<ExitCode> {
    let mut bugs = Vec::new();
    for name in &args.bugs {
        match name.parse::<Bug>() {
            Ok(bug) => bugs.push(bug),
            Err(_) => {
                let names: Vec<&str> = Bug::ALL.iter().map(|bug| bug.name()).collect();
                let hint = scenario::parse::nearest(name, names.iter().copied())
                    .map(|near| format!(" (did you mean `{near}`?)"))
                    .unwrap_or_default();
                bail!("unknown bug `{name}`{hint}; `payfault bugs` lists them");
            }
        }
    }
    let files = scenario::find_files(&args.paths).map_err(anyhow::Error::msg)?;
    if files.is_empty() {
        println!(
            "no scenarios found under {}; nothing to run",
            display_paths(&args.paths)
        );
        return Ok(ExitCode::SUCCESS);
    }
    // Nothing runs unless every file validates.
    let mut scenarios = Vec::new();
    let mut invalid = Vec::new();
    for file in &files {
        match scenario::load(file) {
            Ok(loaded) => scenarios.push(loaded),
            Err(scenario::LoadError::Invalid(errors)) => {
                eprint!("{}", errors.render(color_stream(&std::io::stderr())));
                invalid.push((file.display().to_string(), errors.to_string()));
            }
            Err(error) => {
                eprintln!("error: {error}");
                invalid.push((file.display().to_string(), error.to_string()));
            }
        }
    }
    let mut names = std::collections::BTreeMap::new();
    for loaded in &scenarios {
        if let Some(other) = names.insert(loaded.name.clone(), loaded.file.clone()) {
            let message = format!(
                "the name `{}` is used by {other} and {}",
                loaded.name, loaded.file
            );
            eprintln!("error: {message}");
            invalid.push((loaded.file.clone(), message));
        }
    }
    if !invalid.is_empty() {
        eprintln!(
            "{} of {} scenario files do not validate; nothing was run",
            invalid.len(),
            files.len()
        );
        if let Some(path) = &args.junit {
            std::fs::write(path, report::junit(&[], &invalid))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        return Ok(ExitCode::from(2));
    }
    std::fs::create_dir_all(&args.report_dir)
        .with_context(|| format!("creating {}", args.report_dir.display()))?;
    let options = scenario::RunOptions {
        seed: args.seed,
        bugs,
    };
    let color = color_stream(&std::io::stdout());
    let started = std::time::Instant::now();
    let mut reports = Vec::new();
    let mut stdout = std::io::stdout().lock();
    for loaded in &scenarios {
        let report = scenario::run(loaded, &options).map_err(anyhow::Error::msg)?;
        let base = args.report_dir.join(&report.name);
        std::fs::write(base.with_extension("md"), report.markdown(true))?;
        std::fs::write(
            base.with_extension("json"),
            serde_json::to_string_pretty(&report.json())?,
        )?;
        if args.json {
            writeln!(stdout, "{}", report.json())?;
        } else {
            writeln!(stdout, "{}", report.line(color))?;
            if !report.passed {
                write!(stdout, "{}", report.failure_text())?;
            }
        }
        stdout.flush()?;
        reports.push(report);
    }
    let failed = reports.iter().filter(|report| !report.passed).count();
    if !args.json {
        writeln!(
            stdout,
            "{} scenarios: {} passed, {} failed in {:.1}s; reports in {}",
            reports.len(),
            reports.len() - failed,
            failed,
            started.elapsed().as_secs_f64(),
            args.report_dir.display()
        )?;
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, report::junit(&reports, &[]))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn list_bugs(json: bool) -> Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    if !json {
        writeln!(stdout, "{:<30} {:<8} WHAT GOES WRONG", "BUG", "INCIDENT")?;
    }
    for bug in Bug::ALL {
        if json {
            let line = serde_json::json!({
                "name": bug.name(),
                "incident": bug.incident().to_string(),
                "summary": bug.summary(),
            });
            writeln!(stdout, "{line}")?;
        } else {
            writeln!(
                stdout,
                "{:<30} {:<8} {}",
                bug.name(),
                bug.incident(),
                bug.summary()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn explore(start: u64, seeds: u64, bugs: &[Bug]) -> Result<ExitCode> {
    let bugs = payfault::node::Bugs::of(bugs.iter().copied());
    let began = std::time::Instant::now();
    let (mut failures, mut operations, mut simulated_ms) = (0u64, 0usize, 0u64);
    for seed in start..start + seeds {
        let outcome = payfault::explore::run_seed(seed, &bugs).map_err(anyhow::Error::msg)?;
        operations += outcome.operations;
        simulated_ms += outcome.simulated_ms;
        if !outcome.verdict.passed() {
            failures += 1;
            let violated: Vec<String> = outcome.verdict.violated().iter().map(|v| v.to_string()).collect();
            println!(
                "FAIL seed {seed} trace {} violates {}",
                outcome.trace_hash,
                violated.join(", ")
            );
            for violation in outcome.verdict.violations.iter().take(3) {
                println!("  {violation}");
            }
        }
    }
    let wall = began.elapsed().as_secs_f64();
    println!(
        "{seeds} seeds, {failures} failed, {operations} operations, {:.1} simulated s in {wall:.1} s wall: {:.1} seeds/s, {:.0} operations/s",
        simulated_ms as f64 / 1000.0,
        seeds as f64 / wall,
        operations as f64 / wall
    );
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn determinism(start: u64, seeds: u64) -> Result<ExitCode> {
    let bugs = payfault::node::Bugs::none();
    let mut differing = 0;
    for seed in start..start + seeds {
        let first = payfault::explore::run_seed(seed, &bugs).map_err(anyhow::Error::msg)?;
        let second = payfault::explore::run_seed(seed, &bugs).map_err(anyhow::Error::msg)?;
        println!("seed {seed} trace {} {}", first.trace_hash, second.trace_hash);
        if first.trace_hash != second.trace_hash {
            differing += 1;
            eprintln!(
                "NONDETERMINISTIC: seed {seed} gave {} then {}",
                first.trace_hash, second.trace_hash
            );
        }
    }
    println!("{seeds} seeds run twice, {differing} with differing traces");
    Ok(if differing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn replay(seed: u64, bugs: &[Bug]) -> Result<ExitCode> {
    let bugs = payfault::node::Bugs::of(bugs.iter().copied());
    let mut plan = payfault::explore::generate::generate(seed, &bugs);
    plan.keep_events = true;
    let result = payfault::sim::world::run(&plan).map_err(anyhow::Error::msg)?;
    for event in result.trace.events() {
        println!("{event}");
    }
    let verdict = payfault::check::check(&result.history);
    for violation in &verdict.violations {
        println!("{violation}");
    }
    println!(
        "seed {seed} trace {} {}",
        result.trace_hash,
        if verdict.passed() { "PASS" } else { "FAIL" }
    );
    Ok(if verdict.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn read_stdin() -> Result<Vec<u8>> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .context("reading standard input")?;
    Ok(input)
}

fn wire_decode(hex_input: bool, framed: bool) -> Result<ExitCode> {
    let input = read_stdin()?;
    let mut bytes = if hex_input {
        let text: String = String::from_utf8_lossy(&input).split_whitespace().collect();
        hex::decode(&text).context("the input is not hex (use --hex only for hex text)")?
    } else {
        input
    };
    if framed {
        let mut reader = wire::FrameReader::new();
        reader.push(&bytes);
        bytes = match reader.next_frame()? {
            Some(frame) => frame,
            None => {
                reader.finish()?;
                bail!("no frame in the input");
            }
        };
        if reader.buffered() > 0 {
            bail!("{} bytes after the first frame", reader.buffered());
        }
    }
    let message = wire::decode(&bytes)?;
    let json = serde_json::Value::Object(wire::json::to_json(&message));
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}

fn wire_encode(hex_output: bool, framed: bool) -> Result<ExitCode> {
    let input = read_stdin()?;
    let value: serde_json::Value = serde_json::from_slice(&input).context("the input is not JSON")?;
    let message = wire::json::from_json(&value)?;
    let mut bytes = wire::encode(&message)?;
    if framed {
        bytes = wire::encode_frame(&bytes)?;
    }
    let mut stdout = std::io::stdout().lock();
    if hex_output {
        writeln!(stdout, "{}", hex::encode_upper(&bytes))?;
    } else {
        stdout.write_all(&bytes)?;
    }
    Ok(ExitCode::SUCCESS)
}
