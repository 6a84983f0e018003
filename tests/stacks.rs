//! Naming the TLS stack end to end: every client recorded by the project's scripts is named as
//! its identity says (the program, its version output, the library it reports), hellos of no
//! known stack are `unknown`, the data file is well formed and its evidence is in the
//! repository, `--stack-file` adds entries, and the policy findings and the report carry the
//! remediation.
//!
//! The expected families come from the recordings (captures/expected.jsonl: the client and its
//! version string; captures/stacks/expected.jsonl: also the library the program reports), not
//! from helloscope's output.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

#[path = "../benches/gen/mod.rs"]
mod gen;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn helloscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_helloscope"))
        .args(args)
        .output()
        .unwrap()
}

fn records(args: &[&str]) -> Vec<Value> {
    let mut a = vec!["analyze", "--format", "jsonl"];
    a.extend_from_slice(args);
    let o = helloscope(&a);
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The library family of each client record.sh runs, from what the client says of itself:
/// `openssl version`, curl's `--version` (libcurl/7.88.1 OpenSSL/3.0.19 on the recording
/// machine), Python's `ssl.OPENSSL_VERSION` and Node's `process.versions.openssl` (in the
/// client_version field), gnutls-cli, the JDK, Chromium (BoringSSL). The application is what
/// the stack may name, if it names one.
fn identity(client: &str, client_version: &str) -> (&'static str, &'static str) {
    match client {
        "openssl-s_client" => ("OpenSSL", "openssl"),
        "curl" => {
            assert!(client_version.starts_with("curl 7.88"), "{client_version}");
            ("OpenSSL", "curl")
        }
        "python3-ssl" => {
            assert!(client_version.contains("OpenSSL"), "{client_version}");
            ("OpenSSL", "Python ssl")
        }
        "node-tls" => {
            assert!(client_version.contains("OpenSSL"), "{client_version}");
            ("OpenSSL", "Node.js")
        }
        "gnutls-cli" => ("GnuTLS", "gnutls-cli"),
        "java-jsse" => ("Java JSSE", "Java"),
        "chromium" => ("BoringSSL", "Chromium"),
        other => panic!("a client without an identity here: {other}"),
    }
}

/// Checks one record against the family and application its client has.
fn check_named(r: &Value, family: &str, app: Option<&str>, pinned_low: bool, what: &str) {
    let s = &r["stack"];
    assert_eq!(s["family"], family, "{what}: {s}");
    assert_ne!(s["confidence"], "unknown", "{what}");
    if let Some(claimed) = s["application"].as_str() {
        assert_eq!(Some(claimed), app, "{what}: application claimed wrongly");
    }
    // Every library recorded here speaks TLS 1.2 (the same program offers it at its
    // default): pinned low, its hello must say "disabled", never "absent".
    let want = if pinned_low { "disabled" } else { "offered" };
    assert_eq!(s["tls12"], want, "{what}: {s}");
}

#[test]
fn every_client_of_record_sh_is_named() {
    let expected = jsonl(&root().join("captures/expected.jsonl"));
    let mut by_file: HashMap<String, Vec<Value>> = HashMap::new();
    let mut named = 0;
    let mut apps = 0;
    for e in &expected {
        let file = e["file"].as_str().unwrap().to_owned();
        let recs = by_file
            .entry(file.clone())
            .or_insert_with(|| records(&[root().join("captures").join(&file).to_str().unwrap()]));
        let port = e["client_port"].as_u64().unwrap();
        let r = recs
            .iter()
            .find(|r| r["client_port"].as_u64() == Some(port))
            .unwrap_or_else(|| panic!("{file}:{port} not reported"));
        let (family, app) = identity(
            e["client"].as_str().unwrap(),
            e["client_version"].as_str().unwrap(),
        );
        let pinned = e["version_offered_max"] != "TLS 1.3" && e["version_offered_max"] != "TLS 1.2";
        check_named(
            r,
            family,
            Some(app),
            pinned,
            &format!("{file}:{port} {}", e["client"]),
        );
        named += 1;
        apps += r["stack"]["application"].is_string() as usize;
    }
    assert_eq!(named, expected.len());
    // Programs with settings of their own (curl, Python, Node, Chromium) are named.
    assert!(apps >= 8, "applications named: {apps}");
}

/// Every client of record_stacks.sh: its family (and application, where claimed) as its
/// identity says, `tls12` as its pin says, and helloscope's JA4 the one tshark's dissection
/// gives (`ja4` in expected.jsonl, from captures/stacks_ja4.py), for every hello sent to it.
#[test]
fn every_client_of_record_stacks_sh_is_named() {
    let expected = jsonl(&root().join("captures/stacks/expected.jsonl"));
    assert!(expected.len() >= 32, "{} recorded clients", expected.len());
    let recs = records(&[root()
        .join("captures/stacks/clients.pcap")
        .to_str()
        .unwrap()]);
    let mut families = std::collections::BTreeSet::new();
    for e in &expected {
        let port = e["server_port"].as_u64().unwrap();
        let mine: Vec<&Value> = recs
            .iter()
            .filter(|r| r["server_port"].as_u64() == Some(port))
            .collect();
        assert!(
            !mine.is_empty(),
            "port {port} ({}) not reported",
            e["client"]
        );
        let family = e["family"].as_str().unwrap();
        families.insert(family);
        // Pinned to TLS 1.2 (Chromium, .NET), a client still offers TLS 1.2.
        let pinned_low = matches!(e["pinned_max"].as_str(), Some("TLS 1.0" | "TLS 1.1"));
        let ja4s: Vec<&str> = e["ja4"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j.as_str().unwrap())
            .collect();
        assert!(!ja4s.is_empty(), "port {port}: no JA4 from tshark");
        let what = format!("port {port} {} {}", e["client"], e["client_version"]);
        for r in &mine {
            check_named(r, family, e["application"].as_str(), pinned_low, &what);
            let ja4 = r["ja4"].as_str().unwrap();
            assert!(
                ja4s.contains(&ja4),
                "{what}: {ja4} is not tshark's {ja4s:?}"
            );
        }
        for j in ja4s {
            assert!(
                mine.iter().any(|r| r["ja4"] == j),
                "{what}: {j} not reported"
            );
        }
    }
    for f in [
        "BoringSSL",
        "OpenSSL",
        "GnuTLS",
        "Go crypto/tls",
        "NSS",
        "Java JSSE",
        "rustls",
    ] {
        assert!(families.contains(f), "no recorded client of {f}");
    }
}

/// A ClientHello record: TLS 1.2, the given cipher suites, extensions (type, data) in order.
fn client_hello(ciphers: &[u16], extensions: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x42; 32]);
    body.push(0);
    body.extend_from_slice(&((ciphers.len() * 2) as u16).to_be_bytes());
    for c in ciphers {
        body.extend_from_slice(&c.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]);
    let mut ext = Vec::new();
    for (t, d) in extensions {
        ext.extend_from_slice(&t.to_be_bytes());
        ext.extend_from_slice(&(d.len() as u16).to_be_bytes());
        ext.extend_from_slice(d);
    }
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![1, 0];
    hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

fn sni(name: &str) -> Vec<u8> {
    let n = name.as_bytes();
    let mut d = ((n.len() + 3) as u16).to_be_bytes().to_vec();
    d.push(0);
    d.extend_from_slice(&(n.len() as u16).to_be_bytes());
    d.extend_from_slice(n);
    d
}

/// A pcap of one handshake start per hello (SYN, SYN-ACK, ACK, the hello), each from its own
/// client port (40000, 40001, ...).
fn pcap_of(name: &str, hellos: &[Vec<u8>]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("helloscope-stacks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let mut w = gen::PcapWriter::new(std::io::BufWriter::new(
        std::fs::File::create(&path).unwrap(),
    ));
    let server = ([192, 0, 2, 1], 443);
    for (i, h) in hellos.iter().enumerate() {
        let client = ([10, 0, 0, 1], 40000 + i as u16);
        w.tcp(client, server, 0, 0, 0x02, &[]);
        w.tcp(server, client, 0, 1, 0x12, &[]);
        w.tcp(client, server, 1, 1, 0x10, &[]);
        w.tcp(client, server, 1, 1, 0x18, h);
    }
    w.w.flush().unwrap();
    path
}

/// curl 7.88.1's real hello with its cipher list reversed: the same JA4 as a recorded curl
/// build (JA4 sorts the ciphers), but no library sends the renegotiation SCSV first.
fn reversed_curl() -> Vec<u8> {
    let mut h =
        std::fs::read(root().join("crates/helloscope-tls/testdata/curl-7.88.1-clienthello.bin"))
            .unwrap();
    let sid = 5 + 4 + 2 + 32;
    let at = sid + 1 + h[sid] as usize;
    let n = u16::from_be_bytes([h[at], h[at + 1]]) as usize;
    let list = &mut h[at + 2..at + 2 + n];
    let mut pairs: Vec<[u8; 2]> = list.chunks(2).map(|c| [c[0], c[1]]).collect();
    pairs.reverse();
    list.copy_from_slice(&pairs.concat());
    h
}

/// A hello of no library: ciphers in ascending order, no SCSV, extensions in numeric order.
fn synthetic() -> Vec<u8> {
    client_hello(
        &[
            0x002f, 0x0035, 0x009c, 0x009d, 0xc013, 0xc014, 0xc02b, 0xc02f,
        ],
        &[
            (0, sni("api.procore.com")),
            (10, vec![0, 4, 0, 23, 0, 24]),
            (11, vec![1, 0]),
            (13, vec![0, 4, 4, 3, 8, 4]),
        ],
    )
}

#[test]
fn hellos_of_no_known_stack_are_unknown() {
    let original =
        std::fs::read(root().join("crates/helloscope-tls/testdata/curl-7.88.1-clienthello.bin"))
            .unwrap();
    let path = pcap_of("unknown.pcap", &[original, reversed_curl(), synthetic()]);
    let mut recs = records(&[path.to_str().unwrap()]);
    recs.sort_by_key(|r| r["client_port"].as_u64());
    assert_eq!(recs.len(), 3);
    // The real hello is curl's; the reversed one has curl's JA4 and still is nobody's.
    assert_eq!(recs[0]["stack"]["family"], "OpenSSL");
    assert_eq!(recs[0]["ja4"], recs[1]["ja4"]);
    for r in &recs[1..] {
        assert_eq!(r["stack"]["confidence"], "unknown", "{r}");
        assert_eq!(r["stack"]["family"], Value::Null);
        assert_eq!(r["stack"]["application"], Value::Null);
    }
}

#[test]
fn a_stack_file_adds_entries_and_a_bad_one_is_an_error() {
    let path = pcap_of("user.pcap", &[synthetic()]);
    let ja4 = records(&[path.to_str().unwrap()])[0]["ja4"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = path.parent().unwrap();
    let user = dir.join("mine.toml");
    std::fs::write(
        &user,
        format!(
            r#"
[[stack]]
id = "our-appliance"
family = "Acme TLS"
application = "Acme appliance"
evidence = ["our capture of 2026-11-30"]
ja4 = ["{ja4}"]

[[stack]]
id = "acme-structure"
family = "Acme TLS"
evidence = ["our capture of 2026-11-30"]
[stack.structure]
ciphers_prefix = [0x002f, 0x0035]
"#
        ),
    )
    .unwrap();
    let r = &records(&[
        "--stack-file",
        user.to_str().unwrap(),
        path.to_str().unwrap(),
    ])[0];
    assert_eq!(r["stack"]["family"], "Acme TLS");
    assert_eq!(r["stack"]["application"], "Acme appliance");
    assert_eq!(r["stack"]["confidence"], "exact");

    for (bad, says) in [
        (
            "[[stack]]\nid = \"x\"\nfamily = \"F\"\nevidence = [\"e\"]\n",
            "neither ja4 nor structure",
        ),
        (
            "[[stack]]\nid = \"x\"\nfamily = \"F\"\nevidence = []\nja4 = [\"a_b_c\"]\n",
            "no evidence",
        ),
        (
            "[[stack]]\nid = \"x\"\nfamily = \"F\"\nevidence = [\"e\"]\n[stack.structure]\n",
            "without rules",
        ),
        (
            "[[stack]]\nid = \"x\"\nfamily = \"F\"\nevidence = [\"e\"]\ncipher = 1\n",
            "unknown field",
        ),
    ] {
        std::fs::write(&user, bad).unwrap();
        let o = helloscope(&[
            "analyze",
            "--stack-file",
            user.to_str().unwrap(),
            path.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(err.contains(says) && err.contains("mine.toml"), "{err}");
        assert!(o.stdout.is_empty());
    }
}

/// The built-in data: every entry has an id, a family, evidence whose capture exists (paths in
/// the repository; `corpus:` paths when ../shared/corpus is there), JA4s of the form a_b_c
/// listed under one family only, and remediation texts for the families a cut-over meets.
#[test]
fn the_data_file_is_well_formed_and_its_evidence_exists() {
    let text = std::fs::read_to_string(root().join("src/stacks.toml")).unwrap();
    let data: toml::Value = toml::from_str(&text).unwrap();
    let corpus = corpus();
    let mut families_of_ja4: HashMap<String, String> = HashMap::new();
    let mut ids = std::collections::HashSet::new();
    let entries = data["stack"].as_array().unwrap();
    assert!(entries.len() >= 15);
    let mut checked_corpus = 0;
    for e in entries {
        let id = e["id"].as_str().unwrap();
        assert!(ids.insert(id), "{id} twice");
        let family = e["family"].as_str().unwrap();
        let evidence = e["evidence"].as_array().unwrap();
        assert!(!evidence.is_empty(), "{id}");
        for ev in evidence {
            let file = ev.as_str().unwrap().split_whitespace().next().unwrap();
            if let Some(c) = file.strip_prefix("corpus:") {
                if let Some(corpus) = &corpus {
                    assert!(corpus.join(c).is_file(), "{id}: {file} missing");
                    checked_corpus += 1;
                }
            } else {
                assert!(root().join(file).is_file(), "{id}: {file} missing");
            }
        }
        let has_ja4 = e.get("ja4").is_some();
        assert!(
            has_ja4 != e.get("structure").is_some(),
            "{id}: ja4 or structure"
        );
        for j in e
            .get("ja4")
            .and_then(|j| j.as_array())
            .into_iter()
            .flatten()
        {
            let j = j.as_str().unwrap();
            assert_eq!(j.split('_').count(), 3, "{id}: {j}");
            if let Some(other) = families_of_ja4.insert(j.to_owned(), family.to_owned()) {
                assert_eq!(other, family, "{j} under two families");
            }
        }
    }
    if corpus.is_none() {
        eprintln!("../shared/corpus is absent: corpus evidence paths not checked");
    } else {
        eprintln!("{checked_corpus} corpus evidence paths checked");
    }
    let rem = data["remediation"].as_array().unwrap();
    for fam in ["OpenSSL", "Java JSSE", "Windows SChannel", "*"] {
        for state in ["absent", "disabled"] {
            assert!(
                rem.iter().any(
                    |r| r["family"].as_str() == Some(fam) && r["tls12"].as_str() == Some(state)
                ),
                "no {state} remediation for {fam}"
            );
        }
    }
}

/// Every JA4 of an exact entry is one that tshark's dissection gives for a recorded hello
/// (captures/expected.jsonl from record.sh, captures/stacks/expected.jsonl from
/// record_stacks.sh), every client recorded with it is of the entry's family, and an
/// application named by the entry is every such client's: no exact entry past the evidence.
#[test]
fn exact_entries_are_ja4s_of_recorded_clients_of_their_family() {
    // JA4 -> (family, application) of each recorded flow that sent it.
    let mut sent: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for e in jsonl(&root().join("captures/expected.jsonl")) {
        let (family, app) = identity(
            e["client"].as_str().unwrap(),
            e["client_version"].as_str().unwrap(),
        );
        let ja4 = e["ja4"].as_str().unwrap().to_owned();
        sent.entry(ja4)
            .or_default()
            .push((family.to_owned(), app.to_owned()));
    }
    for e in jsonl(&root().join("captures/stacks/expected.jsonl")) {
        for j in e["ja4"].as_array().unwrap() {
            sent.entry(j.as_str().unwrap().to_owned())
                .or_default()
                .push((
                    e["family"].as_str().unwrap().to_owned(),
                    e["application"].as_str().unwrap_or("").to_owned(),
                ));
        }
    }
    let text = std::fs::read_to_string(root().join("src/stacks.toml")).unwrap();
    let data: toml::Value = toml::from_str(&text).unwrap();
    let mut exact = 0;
    for e in data["stack"].as_array().unwrap() {
        let id = e["id"].as_str().unwrap();
        let family = e["family"].as_str().unwrap();
        for j in e
            .get("ja4")
            .and_then(|j| j.as_array())
            .into_iter()
            .flatten()
        {
            let j = j.as_str().unwrap();
            let clients = sent
                .get(j)
                .unwrap_or_else(|| panic!("{id}: {j} is no recorded client's JA4"));
            for (f, app) in clients {
                assert_eq!(f, family, "{id}: {j} was sent by a {f} client");
                if let Some(a) = e.get("application").and_then(|a| a.as_str()) {
                    assert_eq!(app, a, "{id}: {j} was also sent by {app}");
                }
            }
            exact += 1;
        }
    }
    assert!(exact >= 39, "{exact} exact JA4s");
}

#[test]
fn findings_carry_the_remediation_and_the_report_groups_by_stack() {
    let file = root().join("captures/libraries.pcap");
    let o = helloscope(&[
        "analyze",
        "--format",
        "jsonl",
        "--policy",
        "procore",
        "--report",
        file.to_str().unwrap(),
    ]);
    let recs: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut seen = 0;
    for r in &recs {
        for f in r["policy"]["findings"].as_array().into_iter().flatten() {
            let rem = &f["remediation"];
            if f["code"] == "below_minimum" {
                let text = rem.as_str().expect("below_minimum has a remediation");
                // Java pinned to 1.0/1.1: configured down, the pin named.
                if r["stack"]["family"] == "Java JSSE" {
                    assert!(text.contains("jdk.tls.client.protocols"), "{text}");
                    assert!(text.contains("can speak TLS 1.2"), "{text}");
                }
                if r["stack"]["family"] == "GnuTLS" {
                    assert!(text.contains("priority"), "{text}");
                }
                seen += 1;
            } else {
                assert!(rem.is_null(), "{f}");
            }
        }
    }
    assert!(seen >= 4, "below_minimum findings: {seen}");
    let report = String::from_utf8_lossy(&o.stderr);
    assert!(report.contains("By TLS stack:"), "{report}");
    for s in [
        "Java JSSE",
        "GnuTLS",
        "OpenSSL (Python ssl)",
        "OpenSSL (Node.js)",
    ] {
        assert!(report.contains(&format!("  {s}: ")), "{s} in {report}");
    }
    assert!(
        report.contains("what to change: This Java can speak TLS 1.2"),
        "{report}"
    );
}

/// Corpus captures whose client is documented (the authors name the trace after it), and the
/// family that client is built on: OpenSSL's s_client; Chrome 45 and later on BoringSSL,
/// Chrome before 45 on NSS; Firefox on NSS; OpenJDK's JSSE. `unknown` is allowed (the data
/// may not reach that far back); another family is not.
const DOCUMENTED: &[(&str, &str)] = &[
    ("arkime/tests/pcap/openssl-tls1.pcap", "OpenSSL"),
    ("arkime/tests/pcap/openssl-tls1_1.pcap", "OpenSSL"),
    ("arkime/tests/pcap/openssl-tls1_2.pcap", "OpenSSL"),
    ("arkime/tests/pcap/openssl-tls1-tls1_2.pcap", "OpenSSL"),
    ("arkime/tests/pcap/openssl-tls1_2-tls1.pcap", "OpenSSL"),
    ("arkime/tests/pcap/openssl-ssl3.pcap", "OpenSSL"),
    (
        "zeek/testing/btest/Traces/tls/openjdk-25.0.2-zeek.org.pcap",
        "Java JSSE",
    ),
    (
        "zeek/testing/btest/Traces/tls/chrome-1250-tls-x25519-kyber.pcap",
        "BoringSSL",
    ),
    (
        "zeek/testing/btest/Traces/tls/chrome-63.0.3211.0-canary-tls_experiment.pcap",
        "BoringSSL",
    ),
    (
        "zeek/testing/btest/Traces/tls/tls13draft23-chrome67.0.3368.0-canary.pcap",
        "BoringSSL",
    ),
    (
        "zeek/testing/btest/Traces/tls/tls13draft16-chrome55.0.2879.0-canary.pcap",
        "BoringSSL",
    ),
    ("zeek/testing/btest/Traces/tls/chrome-34-google.pcap", "NSS"),
    (
        "zeek/testing/btest/Traces/tls/tls13draft16-ff52.a01.pcap",
        "NSS",
    ),
    (
        "zeek/testing/btest/Traces/tls/tls13draft16-ff52.a01-aborted.pcap",
        "NSS",
    ),
    ("ja3-rs/tests/chrome-grease-single.pcap", "BoringSSL"),
];

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("HELLOSCOPE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/corpus"));
    dir.is_dir().then_some(dir)
}

#[test]
fn corpus_hellos_of_documented_origin_are_named_as_documented() {
    let Some(dir) = corpus() else {
        eprintln!("SKIPPED stacks corpus: ../shared/corpus is absent");
        return;
    };
    let (mut hellos, mut named) = (0, 0);
    for (file, family) in DOCUMENTED {
        for r in records(&[dir.join(file).to_str().unwrap()]) {
            let s = &r["stack"];
            if s.is_null() {
                continue;
            }
            hellos += 1;
            match s["family"].as_str() {
                Some(f) => {
                    assert_eq!(f, *family, "{file}: {s}");
                    named += 1;
                }
                None => assert_eq!(s["confidence"], "unknown"),
            }
        }
    }
    eprintln!("corpus, documented origin: {named} of {hellos} hellos named, all as documented");
    assert!(named >= 14, "{named} of {hellos}");
}

/// The share of the corpus's hellos that get a family (printed; most of the corpus has no
/// documented client, so only the documented ones above are checked for correctness).
#[test]
fn share_of_corpus_hellos_with_a_family() {
    let Some(dir) = corpus() else {
        eprintln!("SKIPPED stacks corpus share: ../shared/corpus is absent");
        return;
    };
    let manifest = std::fs::read_to_string(dir.join("manifest.tsv")).unwrap();
    let files: Vec<String> = manifest
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .map(|f| dir.join(f).to_str().unwrap().to_owned())
        .collect();
    let (mut hellos, mut named) = (0, 0);
    let mut by_family: std::collections::BTreeMap<String, usize> = Default::default();
    for chunk in files.chunks(64) {
        let args: Vec<&str> = chunk.iter().map(String::as_str).collect();
        for r in records(&args) {
            if r["stack"].is_null() {
                continue;
            }
            hellos += 1;
            if let Some(f) = r["stack"]["family"].as_str() {
                named += 1;
                *by_family.entry(f.to_owned()).or_default() += 1;
            }
        }
    }
    eprintln!(
        "corpus: {named} of {hellos} hellos ({:.0} %) get a family: {by_family:?}",
        100.0 * named as f64 / hellos.max(1) as f64
    );
    assert!(hellos > 500, "{hellos} hellos");
    assert!(named * 2 > hellos, "{named} of {hellos}");
}
