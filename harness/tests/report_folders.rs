//! `payfault run` on the whole library, as CI runs it, into a fresh
//! `--report-dir`: every scenario gets `reports/<name>/` with exactly
//! `index.html`, `report.md`, `summary.json` and `trace.jsonl`;
//! `summary.json` parses, `trace.jsonl` is one JSON object per line;
//! `reports/index.html` lists and links every run with its verdict, seed and
//! trace hash; every page fetches nothing and stays small (issue 15).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use payfault::scenario::Library;
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;

/// A page of the library is at most this big.
const PAGE_MAX_BYTES: usize = 64 * 1024;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|error| panic!("{css}: {error}"))
}

fn text(element: ElementRef<'_>) -> String {
    element.text().collect::<String>().trim().to_string()
}

fn entries(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_library_scenario_writes_its_four_files_and_the_index_links_every_run() {
    let library = Library::load(&[repo_root().join("scenarios")])
        .unwrap()
        .valid()
        .unwrap();
    let names: BTreeSet<String> = library.iter().map(|loaded| loaded.name.clone()).collect();
    assert!(names.len() >= 40, "the library: {} scenarios", names.len());

    let out = std::env::temp_dir().join(format!("payfault-report-folders-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let output = Command::new(env!("CARGO_BIN_EXE_payfault"))
        .current_dir(repo_root())
        .args(["run", "scenarios", "--report-dir"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // A folder per run and the index, nothing else.
    let mut expected: BTreeSet<String> = names.clone();
    expected.insert("index.html".to_string());
    assert_eq!(entries(&out), expected);

    let four: BTreeSet<String> = ["index.html", "report.md", "summary.json", "trace.jsonl"]
        .map(String::from)
        .into();
    assert_eq!(
        payfault::report::FILES
            .map(String::from)
            .into_iter()
            .collect::<BTreeSet<_>>(),
        four
    );

    let mut summaries = std::collections::BTreeMap::new();
    let mut page_sizes = Vec::new();
    for name in &names {
        let folder = out.join(name);
        assert_eq!(entries(&folder), four, "{name}");

        let summary: Value =
            serde_json::from_str(&std::fs::read_to_string(folder.join("summary.json")).unwrap())
                .unwrap_or_else(|error| panic!("{name}/summary.json: {error}"));
        assert_eq!(summary["name"], name.as_str());
        assert_eq!(summary["passed"], true, "{name}");
        let hash = summary["trace_hash"].as_str().unwrap();
        assert!(
            hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{name}: {hash}"
        );
        let seed = summary["seed"].as_u64().unwrap();
        assert!(
            stdout.contains(&format!("seed {seed:<6} trace {hash}")),
            "{name}: the printed line has seed {seed} and trace {hash}"
        );

        let trace = std::fs::read_to_string(folder.join("trace.jsonl")).unwrap();
        assert!(trace.ends_with('\n'), "{name}: trace.jsonl ends its last line");
        let lines: Vec<&str> = trace.lines().collect();
        assert!(lines.len() > 10, "{name}: {} events", lines.len());
        for (number, line) in lines.iter().enumerate() {
            let event: Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("{name}/trace.jsonl:{}: {error}", number + 1));
            assert!(event.is_object(), "{name}/trace.jsonl:{}", number + 1);
            assert!(
                event["at_ms"].is_u64() && event["host"].is_string(),
                "{name}/trace.jsonl:{}",
                number + 1
            );
        }

        let markdown = std::fs::read_to_string(folder.join("report.md")).unwrap();
        assert!(
            markdown.starts_with(&format!("# Scenario `{name}`: PASS\n")),
            "{name}/report.md"
        );
        assert!(
            markdown.contains(&format!("- trace hash: `{hash}`")),
            "{name}/report.md"
        );

        let html = std::fs::read_to_string(folder.join("index.html")).unwrap();
        page_sizes.push(html.len());
        assert!(
            html.len() < PAGE_MAX_BYTES,
            "{name}/index.html is {} bytes",
            html.len()
        );
        let page = Html::parse_document(&html);
        let meta: Vec<String> = page.select(&selector("#verdict dl.meta dd")).map(text).collect();
        assert!(
            meta.contains(&seed.to_string()) && meta.contains(&hash.to_string()),
            "{name}: {meta:?}"
        );
        for id in ["sequence", "customer-view", "ledger"] {
            assert_eq!(
                page.select(&selector(&format!("#{id}"))).count(),
                1,
                "{name}: #{id}"
            );
        }
        assert!(
            page.select(&selector("link, img, iframe, script[src]"))
                .next()
                .is_none(),
            "{name}: fetches"
        );
        for element in page.select(&selector("[href], [src]")) {
            for key in ["href", "src"] {
                if let Some(value) = element.value().attr(key) {
                    assert!(!value.contains("://"), "{name}: {key}={value}");
                }
            }
        }
        summaries.insert(name.clone(), (seed, hash.to_string()));
    }

    // The index: a row per run with verdict, seed, trace hash and links.
    let index = Html::parse_document(&std::fs::read_to_string(out.join("index.html")).unwrap());
    let rows: Vec<ElementRef<'_>> = index.select(&selector("table#runs tbody tr")).collect();
    assert_eq!(rows.len(), names.len());
    let mut listed = BTreeSet::new();
    for row in rows {
        let cells: Vec<ElementRef<'_>> = row.select(&selector("td")).collect();
        let link = cells[1].select(&selector("a")).next().expect("a link to the run");
        let name = text(link);
        let (seed, hash) = summaries
            .get(&name)
            .unwrap_or_else(|| panic!("{name} listed, not run"));
        assert_eq!(
            link.value().attr("href"),
            Some(format!("{name}/index.html").as_str())
        );
        assert_eq!(text(cells[0]), "PASS", "{name}");
        assert_eq!(text(cells[3]), seed.to_string(), "{name}");
        assert_eq!(text(cells[4]), *hash, "{name}");
        let files: Vec<&str> = cells[6]
            .select(&selector("a"))
            .filter_map(|link| link.value().attr("href"))
            .collect();
        assert_eq!(
            files,
            [
                format!("{name}/report.md"),
                format!("{name}/summary.json"),
                format!("{name}/trace.jsonl")
            ]
        );
        for href in files
            .iter()
            .copied()
            .chain([format!("{name}/index.html").as_str()])
        {
            assert!(out.join(href).is_file(), "{href} is linked and missing");
        }
        listed.insert(name);
    }
    assert_eq!(listed, names, "every run listed once");
    let summary = index
        .select(&selector("body > p"))
        .map(text)
        .next()
        .unwrap_or_default();
    assert_eq!(
        summary,
        format!("{} runs: {} passed, 0 failed.", names.len(), names.len())
    );

    page_sizes.sort_unstable();
    eprintln!(
        "pages: {} runs, {} to {} bytes, median {}",
        page_sizes.len(),
        page_sizes[0],
        page_sizes[page_sizes.len() - 1],
        page_sizes[page_sizes.len() / 2]
    );
    let _ = std::fs::remove_dir_all(&out);
}
