//! The IAM policy in `iam/incident-core-policy.json` lists exactly the SDK operations this crate's
//! source calls (`rds.<op>()`, `route53.<op>()`, `sts.<op>()`, `health.<op>()`, `eks.<op>()`), so the two
//! cannot drift apart.

use std::collections::BTreeSet;
use std::path::Path;

const SERVICES: [&str; 5] = ["rds", "route53", "sts", "health", "eks"];

/// `service:operation` in lower case without separators (`rds:describedbinstances`).
fn normalise(service: &str, op: &str) -> String {
    let op: String = op.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("{service}:{}", op.to_ascii_lowercase())
}

fn calls_in(source: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .flat_map(|l| l.chars().chain(std::iter::once('\n')))
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut out = BTreeSet::new();
    for service in SERVICES {
        let needle = format!("{service}.");
        let mut from = 0;
        while let Some(i) = code[from..].find(&needle) {
            let at = from + i;
            from = at + needle.len();
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let rest = &code[from..];
            let ident: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            if !ident.is_empty() && rest[ident.len()..].starts_with("()") {
                out.insert(normalise(service, &ident));
            }
        }
    }
    out
}

#[test]
fn the_policy_lists_exactly_the_operations_the_crate_calls() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut called = BTreeSet::new();
    for entry in std::fs::read_dir(&src).expect("src") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            called.extend(calls_in(&std::fs::read_to_string(&path).expect("read")));
        }
    }
    assert!(called.len() >= 10, "the scan found too few calls: {called:?}");

    let policy_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../iam/incident-core-policy.json");
    let policy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&policy_path).expect("policy")).expect("policy json");
    let mut allowed = BTreeSet::new();
    for st in policy["Statement"].as_array().expect("statements") {
        assert_eq!(st["Effect"], "Allow");
        for a in st["Action"].as_array().expect("actions") {
            let (service, op) = a.as_str().expect("action").split_once(':').expect("service:Action");
            assert!(!op.contains('*'), "no wildcards: {a}");
            allowed.insert(normalise(service, op));
        }
    }
    let missing: Vec<_> = called.difference(&allowed).collect();
    let unused: Vec<_> = allowed.difference(&called).collect();
    assert!(missing.is_empty() && unused.is_empty(), "policy drift: missing {missing:?}, unused {unused:?}");
}

#[test]
fn the_scanner_finds_calls_across_lines() {
    let src = "let page = rds\n    .describe_db_instances()\n// rds.not_this()\nwords.nope(); health.describe_events().send()";
    let found = calls_in(src);
    assert_eq!(
        found,
        ["health:describeevents", "rds:describedbinstances"].into_iter().map(String::from).collect::<BTreeSet<_>>()
    );
}
