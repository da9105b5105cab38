//! Arbitrary text into the scenario parser, its validation and lowering.
//!
//! The contract: any text gives either located errors (a line and column
//! inside the text, a message) or a plan, and never a panic; and a plan
//! that lowers is written back by `scenario::write` to a file that parses
//! to the same plan, so a scenario that runs can always be saved and
//! replayed.

use std::fmt;

use crate::scenario::write::{write, Header};
use crate::scenario::{self, Scenario};

/// The file name errors are located in.
pub const FILE: &str = "fuzz.toml";

/// What the check found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breach {
    /// An error with no usable place, or no message.
    Unlocated(String),
    /// A scenario that lowered cannot be written back exactly.
    NotWritable(String),
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Breach::Unlocated(error) => write!(f, "an error without a place in the text: {error}"),
            Breach::NotWritable(why) => write!(f, "a lowered scenario does not write back: {why}"),
        }
    }
}

/// Parse `text`; on success write the plan back and parse that again.
/// `Ok(Some(scenario))` when the text is a scenario, `Ok(None)` when it was
/// refused with located errors.
pub fn check(text: &str) -> Result<Option<Scenario>, Breach> {
    let scenario = match scenario::parse(FILE, text) {
        Ok(scenario) => scenario,
        Err(errors) => {
            let lines = text.split('\n').count();
            for error in &errors.errors {
                let placed = error.file == FILE
                    && (1..=lines).contains(&error.line)
                    && error.column >= 1
                    && error.span.end <= text.len()
                    && error.span.start <= error.span.end;
                if !placed || error.message.trim().is_empty() {
                    return Err(Breach::Unlocated(format!("{error:?}")));
                }
            }
            if errors.errors.is_empty() {
                return Err(Breach::Unlocated("no error given".into()));
            }
            return Ok(None);
        }
    };
    let header = Header {
        name: scenario.name.clone(),
        incident: scenario.incident,
        description: scenario.description.clone(),
        bugs: scenario.bugs.clone(),
    };
    // `write` parses what it wrote and requires the same plan.
    write(&scenario.plan, &header).map_err(Breach::NotWritable)?;
    Ok(Some(scenario))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_library_scenario_passes_the_check() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
        let files = scenario::find_files(&[dir.into()]).expect("the library");
        assert!(files.len() >= 40, "{} files", files.len());
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable");
            match check(&text) {
                Ok(Some(_)) => {}
                Ok(None) => panic!("{} does not parse", file.display()),
                Err(breach) => panic!("{}: {breach}", file.display()),
            }
        }
    }

    #[test]
    fn broken_text_gives_located_errors() {
        for text in [
            "",
            "name = ",
            "[[operations]]\nat = \"x\"",
            "\u{0}\u{ffff}",
            "name = \"a\"\nincident = \"Q\"",
        ] {
            assert!(matches!(check(text), Ok(None)), "{text:?}");
        }
    }

    #[test]
    fn cut_and_spliced_library_files_never_breach() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
        let files = scenario::find_files(&[dir.into()]).expect("the library");
        let texts: Vec<String> = files
            .iter()
            .map(|file| std::fs::read_to_string(file).expect("readable"))
            .collect();
        let mut parsed = 0;
        for (index, text) in texts.iter().enumerate() {
            let other = &texts[(index + 1) % texts.len()];
            let lines: Vec<&str> = text.lines().collect();
            let others: Vec<&str> = other.lines().collect();
            for cut in (0..lines.len()).step_by(3) {
                let mut spliced = lines[..cut].join("\n");
                spliced.push('\n');
                spliced.push_str(&others[cut.min(others.len())..].join("\n"));
                match check(&spliced) {
                    Ok(found) => parsed += usize::from(found.is_some()),
                    Err(breach) => panic!("{breach}\n--- text:\n{spliced}"),
                }
            }
        }
        assert!(parsed > 0, "no spliced text parsed: the check saw only errors");
    }
}
