//! The house's shape (ARCHITECTURE.md), checked on the source: the top-level modules import
//! each other without cycles, and the booking rules know nothing of how anyone is told.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module of `src/` and the other top-level modules its files name.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(&src).expect("src") {
        let path = entry.expect("entry").path();
        let name = path.file_stem().expect("name").to_string_lossy().to_string();
        if name == "main" || name == "lib" {
            continue;
        }
        let mut text = String::new();
        collect(&path, &mut text);
        let named: BTreeSet<String> = text
            .match_indices("crate::")
            .map(|(at, _)| text[at + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect())
            .filter(|module: &String| *module != name)
            .collect();
        graph.insert(name, named);
    }
    graph
}

fn collect(path: &Path, text: &mut String) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("dir") {
            collect(&entry.expect("entry").path(), text);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        text.push_str(&std::fs::read_to_string(path).expect("source"));
    }
}

/// A path from `from` back to `to` through the graph, if any.
fn path_to(graph: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str, seen: &mut BTreeSet<String>) -> bool {
    if from == to {
        return true;
    }
    if !seen.insert(from.to_string()) {
        return false;
    }
    graph.get(from).is_some_and(|next| next.iter().any(|n| path_to(graph, n, to, seen)))
}

#[test]
fn top_level_modules_import_each_other_without_cycles() {
    let graph = imports();
    assert!(graph.contains_key("booking") && graph.contains_key("app"), "{graph:?}");
    for (module, named) in &graph {
        for other in named {
            assert!(
                !path_to(&graph, other, module, &mut BTreeSet::new()),
                "{module} imports {other}, which leads back to {module}"
            );
        }
    }
}

#[test]
fn the_booking_rules_know_nothing_of_wecom_the_outbox_or_notices() {
    let graph = imports();
    let booking = &graph["booking"];
    for transport in ["wecom", "outbox", "notify", "chat", "web", "app"] {
        assert!(!booking.contains(transport), "booking imports {transport}");
    }
}
