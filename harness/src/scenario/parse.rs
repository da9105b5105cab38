//! Reading a scenario file: TOML into the [`format`](super::format) model,
//! and the located errors every later step reports with.
//!
//! Every error names the file, the line and the column, says what was
//! expected and, for a misspelt name, suggests the nearest valid one.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};
use serde_spanned::Spanned;

use super::format::ScenarioFile;
use crate::wire::types::Money;

/// One problem in a scenario file, with its place.
#[derive(Debug, Clone)]
pub struct ScenarioError {
    /// The file as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// The nearest valid name, for a misspelling.
    pub suggestion: Option<String>,
    /// More help: what is expected.
    pub help: Option<String>,
    /// Byte range in the file.
    pub span: Range<usize>,
    source: Arc<NamedSource<String>>,
}

impl ScenarioError {
    /// The help line as rendered (suggestion first).
    pub fn help_text(&self) -> Option<String> {
        match (&self.suggestion, &self.help) {
            (Some(suggestion), Some(help)) => Some(format!("did you mean `{suggestion}`? {help}")),
            (Some(suggestion), None) => Some(format!("did you mean `{suggestion}`?")),
            (None, Some(help)) => Some(help.clone()),
            (None, None) => None,
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)?;
        if let Some(help) = self.help_text() {
            write!(f, " ({help})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

impl Diagnostic for ScenarioError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("payfault::scenario"))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help_text()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&*self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let length = self.span.end.saturating_sub(self.span.start);
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some("here".to_string()),
            (self.span.start, length),
        ))))
    }
}

/// Every problem found in one file (never empty).
#[derive(Debug, Clone)]
pub struct ScenarioErrors {
    /// The problems, in file order.
    pub errors: Vec<ScenarioError>,
}

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.errors.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

impl ScenarioErrors {
    /// Render every error with miette (source excerpt, label, help).
    pub fn render(&self, color: bool) -> String {
        let theme = if color {
            miette::GraphicalTheme::unicode()
        } else {
            miette::GraphicalTheme::unicode_nocolor()
        };
        let handler = miette::GraphicalReportHandler::new_themed(theme).with_context_lines(1);
        let mut out = String::new();
        for error in &self.errors {
            if handler.render_report(&mut out, error).is_err() {
                out.push_str(&error.to_string());
            }
            out.push('\n');
        }
        out
    }
}

/// The source of one file, to locate errors in.
#[derive(Debug, Clone)]
pub struct Source {
    file: String,
    text: Arc<NamedSource<String>>,
    raw: Arc<str>,
}

impl Source {
    /// A file's name (as shown in errors) and text.
    pub fn new(file: &str, text: &str) -> Source {
        Source {
            file: file.to_string(),
            text: Arc::new(NamedSource::new(file, text.to_string())),
            raw: Arc::from(text),
        }
    }

    /// The file name.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// An error at `span`.
    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        let start = span.start.min(self.raw.len());
        let end = span.end.clamp(start, self.raw.len());
        let before = &self.raw[..floor_char(&self.raw, start)];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |tail| tail.chars().count()) + 1;
        ScenarioError {
            file: self.file.clone(),
            line,
            column,
            message: message.into(),
            suggestion: None,
            help: None,
            span: start..end,
            source: self.text.clone(),
        }
    }
}

fn floor_char(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

impl ScenarioError {
    /// Add what was expected.
    pub fn with_help(mut self, help: impl Into<String>) -> ScenarioError {
        self.help = Some(help.into());
        self
    }

    /// Suggest the valid name nearest to `word`, if any is near.
    pub fn suggest<'a>(mut self, word: &str, candidates: impl IntoIterator<Item = &'a str>) -> ScenarioError {
        self.suggestion = nearest(word, candidates).map(str::to_string);
        self
    }
}

pub use crate::suggest::nearest;

/// Parse the TOML text into the file model, or say where it is wrong.
pub fn parse_file(source: &Source, text: &str) -> Result<ScenarioFile, ScenarioErrors> {
    toml::from_str::<ScenarioFile>(text).map_err(|error| ScenarioErrors {
        errors: vec![toml_error(source, &error)],
    })
}

/// A TOML or serde error, located, with a suggestion for an unknown key.
fn toml_error(source: &Source, error: &toml::de::Error) -> ScenarioError {
    let span = error.span().unwrap_or(0..0);
    let message = error.message().trim().to_string();
    let mut located = source.error(span, first_line(&message));
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((word, expected)) = rest.split_once('`') {
            let names = backticked(expected);
            located.message = format!("unknown key `{word}`");
            located = located
                .suggest(word, names.iter().map(String::as_str))
                .with_help(format!("valid keys here: {}", names.join(", ")));
        }
    } else if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some((word, _)) = rest.split_once('`') {
            located.message = format!("missing key `{word}`");
            located = located.with_help(format!("add `{word} = ...` to this table"));
        }
    } else if message.starts_with("invalid type") {
        located = located.with_help("see docs/scenarios.md for the type of each field");
    }
    located
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("invalid TOML").to_string()
}

fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .enumerate()
        .filter(|(index, _)| index % 2 == 1)
        .map(|(_, word)| word.to_string())
        .collect()
}

/// Parse a duration: "250ms", "3s", "1.5s", "2m", "1h", "0".
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let millis = parse_signed_duration_ms(text)?;
    u64::try_from(millis).map_err(|_| "a duration must not be negative".to_string())
}

/// Parse a duration that may be negative ("-2s").
pub fn parse_signed_duration_ms(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if body == "0" {
        return Ok(0);
    }
    let split = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{text}` has no unit; write e.g. \"250ms\", \"3s\", \"2m\""))?;
    let (number, unit) = body.split_at(split);
    let scale: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return Err(format!("unknown unit `{unit}` in `{text}`; use ms, s, m or h")),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!(
            "`{text}` is not a duration; write e.g. \"250ms\", \"3s\", \"1.5s\""
        ));
    }
    let whole: u64 = whole.parse().map_err(|_| format!("`{text}` is too large"))?;
    let mut millis = whole
        .checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large"))?;
    if !fraction.is_empty() {
        let digits = fraction.len().min(9) as u32;
        let fraction: u64 = fraction[..digits as usize].parse().unwrap_or(0);
        let part = fraction * scale / 10u64.pow(digits);
        if part * 10u64.pow(digits) != fraction * scale {
            return Err(format!("`{text}` is not a whole number of milliseconds"));
        }
        millis = millis
            .checked_add(part)
            .ok_or_else(|| format!("`{text}` is too large"))?;
    }
    let millis = i64::try_from(millis).map_err(|_| format!("`{text}` is too large"))?;
    Ok(if negative { -millis } else { millis })
}

/// Parse a chance: "5%", "0.5%", "500ppm"; into parts per million.
pub fn parse_rate_ppm(text: &str) -> Result<u32, String> {
    let text = text.trim();
    let bad = || format!("`{text}` is not a rate; write e.g. \"5%\", \"0.5%\" or \"500ppm\"");
    if let Some(number) = text.strip_suffix("ppm") {
        let ppm: u32 = number.trim().parse().map_err(|_| bad())?;
        if ppm > 1_000_000 {
            return Err(format!("`{text}` is above 1000000ppm (100%)"));
        }
        return Ok(ppm);
    }
    let number = text.strip_suffix('%').ok_or_else(bad)?.trim();
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || fraction.len() > 4 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: u32 = whole.parse().map_err(|_| bad())?;
    let fraction: u32 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<4}").parse().map_err(|_| bad())?
    };
    let ppm = whole
        .checked_mul(10_000)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(bad)?;
    if ppm > 1_000_000 {
        return Err(format!("`{text}` is above 100%"));
    }
    Ok(ppm)
}

/// Parse money, "12.50 EUR" (never a float).
pub fn parse_money(text: &str) -> Result<Money, String> {
    text.parse::<Money>().map_err(|error| error.to_string())
}

/// The byte range of a spanned value.
pub fn span_of<T>(value: &Spanned<T>) -> Range<usize> {
    value.span()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert_eq!(parse_duration_ms("3s"), Ok(3_000));
        assert_eq!(parse_duration_ms("1.5s"), Ok(1_500));
        assert_eq!(parse_duration_ms("2m"), Ok(120_000));
        assert_eq!(parse_duration_ms("0"), Ok(0));
        assert_eq!(parse_signed_duration_ms("-2s"), Ok(-2_000));
        assert!(parse_duration_ms("3").is_err());
        assert!(parse_duration_ms("3 parsecs").is_err());
        assert!(parse_duration_ms("-1s").is_err());
        assert!(parse_duration_ms("1.0005s").is_err());
        assert!(parse_duration_ms("99999999999999999999h").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate_ppm("5%"), Ok(50_000));
        assert_eq!(parse_rate_ppm("0.5%"), Ok(5_000));
        assert_eq!(parse_rate_ppm("500ppm"), Ok(500));
        assert!(parse_rate_ppm("5").is_err());
        assert!(parse_rate_ppm("101%").is_err());
    }

    #[test]
    fn suggestions() {
        assert_eq!(nearest("actoin", ["link", "action", "direction"]), Some("action"));
        assert_eq!(
            nearest(
                "bank.post.after_sync_befor_reply",
                ["bank.post.before_sync", "bank.post.after_sync_before_reply"]
            ),
            Some("bank.post.after_sync_before_reply")
        );
        assert_eq!(nearest("zzzzzz", ["sale", "refund"]), None);
    }
}
