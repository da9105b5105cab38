//! Where reports go: one folder per run, `<report dir>/<name>/`, holding
//! [`FILES`], and `<report dir>/index.html` listing the runs of the last
//! command.

use std::path::{Path, PathBuf};

use super::{html, ScenarioReport};

/// The files of a run's folder: the page, the story in text, the summary,
/// every event.
pub const FILES: [&str; 4] = ["index.html", "report.md", "summary.json", "trace.jsonl"];

/// A report that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing {}: {source}", path.display())]
pub struct WriteError {
    /// The file or folder.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

fn write(path: PathBuf, contents: &str) -> Result<(), WriteError> {
    std::fs::write(&path, contents).map_err(|source| WriteError { path, source })
}

/// The folder name of run `name`: its name with anything but letters,
/// digits, `.`, `_` and `-` replaced by `-` (a name never leaves the
/// report directory).
pub fn folder_name(name: &str) -> String {
    let folder: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    match folder.trim_matches('.') {
        "" => "run".to_string(),
        _ => folder,
    }
}

/// Write the four files of `report` into `report_dir/<name>/` and return
/// that folder.
pub fn write_folder(report_dir: &Path, report: &ScenarioReport) -> Result<PathBuf, WriteError> {
    let folder = report_dir.join(folder_name(&report.name));
    std::fs::create_dir_all(&folder).map_err(|source| WriteError {
        path: folder.clone(),
        source,
    })?;
    // A report that cannot be serialized is an error, not a file of `null`.
    let serialized = |path: PathBuf, text: serde_json::Result<String>| {
        text.map_err(|error| WriteError {
            path,
            source: error.into(),
        })
    };
    let summary_path = folder.join("summary.json");
    let summary = serialized(summary_path.clone(), serde_json::to_string_pretty(&report.json()))?;
    let trace_path = folder.join("trace.jsonl");
    let trace = serialized(trace_path.clone(), report.trace_jsonl())?;
    write(folder.join("index.html"), &report.html())?;
    write(folder.join("report.md"), &report.markdown(true))?;
    write(summary_path, &(summary + "\n"))?;
    write(trace_path, &trace)?;
    Ok(folder)
}

/// Write `report_dir/index.html` listing `reports` (each in its folder,
/// as [`write_folder`] writes them) and return its path.
pub fn write_index(
    report_dir: &Path,
    title: &str,
    reports: &[&ScenarioReport],
) -> Result<PathBuf, WriteError> {
    std::fs::create_dir_all(report_dir).map_err(|source| WriteError {
        path: report_dir.to_path_buf(),
        source,
    })?;
    let runs: Vec<(&ScenarioReport, String)> = reports
        .iter()
        .map(|report| (*report, folder_name(&report.name)))
        .collect();
    let path = report_dir.join("index.html");
    write(path.clone(), &html::index(title, &runs))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::folder_name;

    #[test]
    fn a_folder_name_never_leaves_the_report_directory() {
        assert_eq!(
            folder_name("refund-bank-crash-after-posting"),
            "refund-bank-crash-after-posting"
        );
        assert_eq!(folder_name("seed-7"), "seed-7");
        assert_eq!(folder_name("../../etc"), "..-..-etc");
        assert_eq!(folder_name(".."), "run");
        assert_eq!(folder_name("a b/c"), "a-b-c");
    }
}
