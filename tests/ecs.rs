//! `--format ecs` on the bundled captures: every field outside `helloscope.*` is an ECS field
//! of the ECS type (tests/ecs_fields.tsv, from the ECS 8.11 reference), with an allowed value
//! where ECS lists them; the fields the issue names are there; the rest keeps the jsonl keys.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::process::Command;

use serde_json::Value;

struct Field {
    ty: String,
    allowed: Option<BTreeSet<String>>,
}

fn reference() -> BTreeMap<String, Field> {
    let text = include_str!("ecs_fields.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            let name = cols.next().unwrap().to_owned();
            let ty = cols.next().expect("type").to_owned();
            let allowed = cols
                .next()
                .map(|a| a.split(',').map(str::to_owned).collect());
            (name, Field { ty, allowed })
        })
        .collect()
}

/// Leaves of `v` by dotted name (arrays are leaves).
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, v, out);
            }
        }
        _ => out.push((prefix.to_owned(), v.clone())),
    }
}

/// `v` is a value of ECS type `ty`.
fn of_type(ty: &str, v: &Value) -> bool {
    let scalar = |ty: &str, v: &Value| match ty {
        "keyword" => v.is_string(),
        "long" => v.is_u64() || v.is_i64(),
        "boolean" => v.is_boolean(),
        "ip" => v.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok()),
        "date" => v
            .as_str()
            .is_some_and(|s| s.len() == 27 && s.ends_with('Z') && s.as_bytes()[10] == b'T'),
        _ => panic!("type {ty} not in the test"),
    };
    match ty.strip_suffix("[]") {
        Some(t) => v.as_array().is_some_and(|a| a.iter().all(|x| scalar(t, x))),
        None => scalar(ty, v),
    }
}

#[test]
fn ecs_documents_use_ecs_names_and_types() {
    let o = Command::new(env!("CARGO_BIN_EXE_helloscope"))
        .args([
            "analyze",
            "--policy",
            "procore",
            "--format",
            "ecs",
            "--sensor",
            "gw1",
            "captures/curl.pcapng",
            "captures/ipv6.pcap",
            "captures/libraries.pcap",
            "captures/openssl.pcap",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "procore clients break");
    let reference = reference();
    let mut seen = BTreeSet::new();
    let mut docs = 0;
    for line in String::from_utf8(o.stdout).unwrap().lines() {
        let doc: Value = serde_json::from_str(line).expect(line);
        docs += 1;
        let mut fields = Vec::new();
        flatten("", &doc, &mut fields);
        for (name, v) in fields {
            if name.starts_with("helloscope.") {
                continue;
            }
            let f = reference
                .get(&name)
                .unwrap_or_else(|| panic!("{name} is not an ECS field: {line}"));
            assert!(of_type(&f.ty, &v), "{name} = {v} is not {}", f.ty);
            if let Some(allowed) = &f.allowed {
                let values: Vec<&str> = match &v {
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    v => vec![v.as_str().unwrap()],
                };
                for x in values {
                    assert!(allowed.contains(x), "{name} = {x} is not an allowed value");
                }
            }
            seen.insert(name);
        }
        assert_eq!(doc["observer"]["name"], "gw1");
        assert_eq!(doc["@timestamp"], doc["event"]["start"]);
        // Not in ECS: under helloscope.*, with the jsonl keys.
        assert!(doc["helloscope"]["ja4"].is_string() || doc["helloscope"]["ja4"].is_null());
        assert!(doc["helloscope"]["outcome"].is_string());
    }
    assert!(docs >= 29, "every bundled flow");
    for name in [
        "@timestamp",
        "source.ip",
        "source.port",
        "destination.ip",
        "destination.port",
        "network.transport",
        "tls.version",
        "tls.version_protocol",
        "tls.cipher",
        "tls.client.server_name",
        "tls.client.ja3",
        "tls.server.ja3s",
        "tls.established",
        "tls.next_protocol",
        "event.kind",
        "event.outcome",
    ] {
        assert!(seen.contains(name), "{name} never written");
    }
}
