//! The one-way rule of docs/architecture.md, enforced: every `crate::`
//! path in a layer's source names only the layers below it. The checker
//! (`check/`) and the evidence (`history/`) depend on nothing that runs the
//! system they judge, so a bug in a node cannot be copied into its judge.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each top-level module of the crate and the modules it may name.
const ALLOWED: &[(&str, &[&str])] = &[
    ("suggest", &[]),
    ("cover", &[]),
    ("wire", &["cover"]),
    ("node", &["wire", "suggest", "cover"]),
    ("plan", &["node", "wire", "cover"]),
    ("history", &["wire", "cover"]),
    ("check", &["history", "wire", "cover"]),
    ("sim", &["plan", "node", "history", "wire", "cover"]),
    ("report", &["history", "check", "sim", "node", "wire", "cover"]),
    (
        "scenario",
        &["plan", "node", "history", "wire", "suggest", "cover"],
    ),
    (
        "run",
        &[
            "sim", "plan", "node", "check", "history", "report", "scenario", "wire", "cover",
        ],
    ),
    (
        "explore",
        &[
            "run", "sim", "plan", "node", "check", "history", "report", "scenario", "wire", "cover",
        ],
    ),
    (
        "bench",
        &[
            "explore", "run", "sim", "plan", "node", "check", "history", "report", "scenario", "wire",
            "cover",
        ],
    ),
    (
        "fuzz",
        &[
            "explore", "run", "sim", "plan", "node", "check", "history", "report", "scenario", "wire",
            "cover",
        ],
    ),
    (
        "mutants",
        &[
            "explore", "run", "sim", "plan", "node", "check", "history", "report", "scenario", "wire",
            "cover",
        ],
    ),
];

fn source_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The code of `text` without comments (line comments and doc comments).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segments after `prefix` at `rest`: one identifier, or
/// each top-level entry of a `{...}` group (nested groups included).
fn segments_after(rest: &str) -> Vec<String> {
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 1usize;
        let mut entries = vec![String::new()];
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 1 => break,
                '}' => depth -= 1,
                ',' if depth == 1 => entries.push(String::new()),
                _ => entries.last_mut().expect("one entry at least").push(c),
            }
        }
        return entries
            .iter()
            .flat_map(|entry| {
                let entry = entry.trim();
                let head: String = entry
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if head.is_empty() {
                    segments_after(entry)
                } else {
                    vec![head]
                }
            })
            .filter(|head| head != "self")
            .collect();
    }
    let head: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if head.is_empty() {
        Vec::new()
    } else {
        vec![head]
    }
}

/// The top-level modules that `text`, the source of the module at
/// `module_path` (e.g. `["check", "rules"]`), names: through `crate::`
/// paths and through `super::` chains that climb to the crate root.
fn named_modules(text: &str, module_path: &[String]) -> BTreeSet<String> {
    let code = code_of(text);
    let mut named = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        named.extend(segments_after(after));
        rest = after;
    }
    // `super::super::x` from `a::b` is `crate::x`: count the climb.
    let bytes = code.as_bytes();
    let mut index = 0;
    while let Some(found) = code[index..].find("super::") {
        let start = index + found;
        let starts_word = start == 0
            || !(bytes[start - 1].is_ascii_alphanumeric()
                || bytes[start - 1] == b'_'
                || bytes[start - 1] == b':');
        let mut end = start;
        let mut climbs = 0;
        while code[end..].starts_with("super::") {
            climbs += 1;
            end += "super::".len();
        }
        if starts_word && climbs >= module_path.len() {
            named.extend(segments_after(&code[end..]));
        }
        index = end;
    }
    named
}

/// The module path of a source file: `src/check/rules.rs` is
/// `["check", "rules"]`, `src/check/mod.rs` is `["check"]`.
fn module_path_of(src: &Path, file: &Path) -> Option<Vec<String>> {
    let relative = file.strip_prefix(src).ok()?;
    let mut path: Vec<String> = relative
        .components()
        .map(|component| component.as_os_str().to_str().map(str::to_string))
        .collect::<Option<_>>()?;
    let last = path.pop()?;
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        path.push(stem.to_string());
    }
    Some(path)
}

#[test]
fn every_layer_names_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    files.sort();
    let mut checked = BTreeSet::new();
    let mut breaches = Vec::new();
    for file in &files {
        let Some(module_path) = module_path_of(&src, file) else {
            continue;
        };
        let Some(layer) = module_path.first().cloned() else {
            continue;
        };
        if layer == "lib" || layer == "bin" {
            continue;
        }
        let Some((_, allowed)) = ALLOWED.iter().find(|(name, _)| *name == layer) else {
            breaches.push(format!(
                "{}: the layer `{layer}` is not in the rule (add it to ALLOWED and docs/architecture.md)",
                file.display()
            ));
            continue;
        };
        checked.insert(layer.clone());
        let text = std::fs::read_to_string(file).unwrap();
        for module in named_modules(&text, &module_path) {
            if module != layer && !allowed.contains(&module.as_str()) {
                breaches.push(format!("{}: `{layer}` names `crate::{module}`", file.display()));
            }
        }
    }
    assert!(
        breaches.is_empty(),
        "the one-way rule is broken:\n{}",
        breaches.join("\n")
    );
    for layer in [
        "wire", "node", "plan", "history", "check", "sim", "run", "scenario", "report", "cover",
    ] {
        assert!(checked.contains(layer), "no source file of `{layer}` was read");
    }
}

#[test]
fn the_rule_reader_sees_paths_groups_and_climbs_and_ignores_comments() {
    let path = |parts: &[&str]| parts.iter().map(|part| part.to_string()).collect::<Vec<_>>();
    let read = |text: &str, at: &[&str]| named_modules(text, &path(at)).into_iter().collect::<Vec<_>>();
    let text =
        "use crate::node::Peer;\nlet x = crate::sim::run(plan); // crate::explore\n/// see crate::report\n";
    assert_eq!(read(text, &["check", "rules"]), ["node", "sim"]);
    let grouped = "use crate::{history::History, node::{Peer, Shown}, self};";
    assert_eq!(read(grouped, &["check", "rules"]), ["history", "node"]);
    // From check::rules, super::super is the crate root; from
    // check::calendar::tests it is only check.
    assert_eq!(
        read("use super::super::node::Peer;", &["check", "rules"]),
        ["node"]
    );
    assert_eq!(
        read("use super::super::{sim, wire};", &["check", "rules"]),
        ["sim", "wire"]
    );
    assert!(read("use super::super::Date;", &["check", "calendar", "tests"]).is_empty());
    assert!(read("use super::Invariant;", &["check", "rules"]).is_empty());
}
