//! The one-way rule of docs/architecture.md, enforced: every `crate::`
//! path in a layer's source names only the layers below it. The checker
//! (`check/`) and the evidence (`history/`) depend on nothing that runs the
//! system they judge, so a bug in a node cannot be copied into its judge.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each top-level module of the crate and the modules it may name.
const ALLOWED: &[(&str, &[&str])] = &[
    ("suggest", &[]),
    ("wire", &[]),
    ("node", &["wire", "suggest"]),
    ("plan", &["node", "wire"]),
    ("history", &["wire"]),
    ("check", &["history", "wire"]),
    ("sim", &["plan", "node", "history", "wire"]),
    ("report", &["history", "check", "sim", "node", "wire"]),
    ("scenario", &["plan", "node", "history", "wire", "suggest"]),
    (
        "run",
        &[
            "sim", "plan", "node", "check", "history", "report", "scenario", "wire",
        ],
    ),
    (
        "explore",
        &[
            "run", "sim", "plan", "node", "check", "history", "report", "scenario", "wire",
        ],
    ),
    (
        "bench",
        &[
            "explore", "run", "sim", "plan", "node", "check", "history", "report", "scenario", "wire",
        ],
    ),
    (
        "mutants",
        &[
            "explore", "run", "sim", "plan", "node", "check", "history", "report", "scenario", "wire",
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

/// The top-level modules named by `crate::<module>` in `text`, outside
/// comments.
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let module: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !module.is_empty() {
                named.insert(module);
            }
            rest = after;
        }
    }
    named
}

/// The layer a source file belongs to: `src/<layer>.rs` or `src/<layer>/...`.
fn layer_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_string())
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
        let Some(layer) = layer_of(&src, file) else {
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
        for module in named_modules(&text) {
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
        "wire", "node", "plan", "history", "check", "sim", "run", "scenario", "report",
    ] {
        assert!(checked.contains(layer), "no source file of `{layer}` was read");
    }
}

#[test]
fn the_rule_reader_sees_paths_and_ignores_comments() {
    let text =
        "use crate::node::Peer;\nlet x = crate::sim::run(plan); // crate::explore\n/// see crate::report\n";
    let named: Vec<String> = named_modules(text).into_iter().collect();
    assert_eq!(named, ["node", "sim"]);
}
