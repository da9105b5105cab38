//! Scenario files: how QA replays a customer incident.
//!
//! A scenario is a small TOML file (format: `docs/scenarios.md`): a name,
//! the incident class (A-E of INCIDENTS.md), a description, changes on top
//! of the built-in topology, a timed list of operations, the faults, and
//! optional expectations. The invariants are always checked; expectations
//! add to them.
//!
//! The flow is one way, one module per step:
//!
//! - [`vocabulary`]: the names a file may write (operations and their
//!   keys, fault actions, injections, outcomes, states), each listed once;
//! - [`format`](mod@format): the serde model of the file, every value with its span,
//!   read by the parser and serialized by [`write`](mod@write);
//! - [`parse`](mod@parse): TOML into that model, and the located errors
//!   ([`ScenarioError`]: file, line, column, what was expected, the nearest
//!   valid name for a misspelling), rendered with miette;
//! - [`lower`]: checks every name and value and lowers the file to a
//!   [`Plan`](crate::plan::Plan) plus [`Expectation`]s;
//! - [`write`](mod@write): a plan written back as a file that lowers to the same plan.
//!
//! Running a scenario and judging it is [`crate::run::scenario`]'s.
//!
//! Operation ids map to `OperationId`s by file order: the n-th
//! `[[operations]]` entry is `op<n>`; the end-of-day batch closes follow.
//!
//! ```
//! use payfault::run::{scenario, ScenarioOptions};
//! use payfault::scenario::parse;
//!
//! let text = r#"
//! name = "one-sale"
//! incident = "C"
//! description = "A plain sale, approved and paid out at the end of the day."
//! [[operations]]
//! at = "100ms"
//! op = "sale"
//! id = "s1"
//! card = "4111110000000001"
//! amount = "12.50 EUR"
//! [[expect]]
//! operation = "s1"
//! shows = "approved"
//! "#;
//! let one_sale = parse("one-sale.toml", text).unwrap();
//! assert_eq!(one_sale.plan.workload.len(), 1);
//! let report = scenario(&one_sale, &ScenarioOptions::default()).unwrap();
//! assert!(report.passed, "{}", report.failure_text());
//! ```

pub mod format;
pub mod lower;
pub mod parse;
pub mod vocabulary;
pub mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use lower::{Expectation, OperationInfo, Scenario, ShowKind, DEFAULT_SEED};
pub use parse::{ScenarioError, ScenarioErrors};

/// Parse and check a scenario from its text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioErrors> {
    let source = parse::Source::new(file, text);
    let model = parse::parse_file(&source, text)?;
    lower::lower(&source, model)
}

/// Why a file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// It could not be read.
    #[error("{0}")]
    Io(String),
    /// It does not validate.
    #[error("{0}")]
    Invalid(ScenarioErrors),
    /// Another file of the same library uses its name.
    #[error("the name `{name}` is used by {other} and {file}")]
    DuplicateName {
        /// The name.
        name: String,
        /// The file that used it first.
        other: String,
        /// This file.
        file: String,
    },
}

/// A library of scenario files: the ones that validate, and why the others
/// do not. Nothing of a library should run unless every file validates.
#[derive(Debug, Default)]
pub struct Library {
    /// The files that validate, in path order.
    pub scenarios: Vec<Scenario>,
    /// The files that do not, with the reason.
    pub invalid: Vec<(PathBuf, LoadError)>,
}

impl Library {
    /// Load every `*.toml` under `paths` (see [`find_files`]): each file
    /// parsed and checked, and no two with the same name.
    pub fn load(paths: &[PathBuf]) -> Result<Library, String> {
        let mut library = Library::default();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for file in find_files(paths)? {
            match load(&file) {
                Ok(loaded) => match names.get(&loaded.name) {
                    Some(other) => library.invalid.push((
                        file,
                        LoadError::DuplicateName {
                            name: loaded.name.clone(),
                            other: other.clone(),
                            file: loaded.file.clone(),
                        },
                    )),
                    None => {
                        names.insert(loaded.name.clone(), loaded.file.clone());
                        library.scenarios.push(loaded);
                    }
                },
                Err(error) => library.invalid.push((file, error)),
            }
        }
        Ok(library)
    }

    /// Every file validates: the scenarios, or the first reason one does not.
    pub fn valid(self) -> Result<Vec<Scenario>, String> {
        match self.invalid.into_iter().next() {
            Some((_, error)) => Err(error.to_string()),
            None => Ok(self.scenarios),
        }
    }
}

/// Read, parse and check a scenario file.
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| LoadError::Io(format!("{}: {error}", path.display())))?;
    parse(&path.display().to_string(), &text).map_err(LoadError::Invalid)
}

/// Every `*.toml` file under `paths` (files as given, folders recursively),
/// sorted.
pub fn find_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    for path in paths {
        if !path.exists() {
            return Err(format!("{} does not exist", path.display()));
        }
        collect(path, &mut found)?;
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn collect(path: &Path, found: &mut Vec<PathBuf>) -> Result<(), String> {
    if path.is_file() {
        found.push(path.to_path_buf());
        return Ok(());
    }
    let entries = std::fs::read_dir(path).map_err(|error| format!("reading {}: {error}", path.display()))?;
    for entry in entries {
        let entry_path = entry.map_err(|error| error.to_string())?.path();
        if entry_path.is_dir() {
            collect(&entry_path, found)?;
        } else if entry_path.extension().is_some_and(|ext| ext == "toml") {
            found.push(entry_path);
        }
    }
    Ok(())
}
