//! The helloscope command, run as a user would, on the bundled captures.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn helloscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_helloscope"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run helloscope")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn jsonl(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).expect(l))
        .collect()
}

/// The codes of a record's policy findings.
fn finding_codes(r: &Value) -> Vec<&str> {
    r["policy"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect()
}

const KEYS: &[&str] = &[
    "ts",
    "source",
    "sensor",
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
    "sni",
    "alpn_offered",
    "alpn",
    "versions_offered",
    "version_offered_max",
    "version",
    "cipher",
    "hello_retry",
    "fallback_scsv",
    "ja3",
    "ja3s",
    "ja4",
    "ja4s",
    "outcome",
    "alert",
    "transport",
    "quic_version",
];

#[test]
fn jsonl_has_every_documented_key() {
    let o = helloscope(&["analyze", "--format", "jsonl", "captures/openssl.pcap"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let recs = jsonl(&o);
    assert_eq!(recs.len(), 12);
    for r in &recs {
        for k in KEYS {
            assert!(r.get(k).is_some(), "key {k} missing in {r}");
        }
        assert!(r.get("policy").is_none(), "no policy key without a policy");
        assert_eq!(r["transport"], "tcp");
        assert!(r["quic_version"].is_null());
        assert_eq!(r["source"], "captures/openssl.pcap");
        // RFC 3339, UTC, microseconds.
        let ts = r["ts"].as_str().unwrap();
        assert_eq!(ts.len(), 27, "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.');
    }
    let alert = recs.iter().find(|r| r["outcome"] == "alert").unwrap();
    assert_eq!(alert["alert"]["description"], "protocol_version");
    assert_eq!(alert["alert"]["from"], "server");
    assert_eq!(alert["alert"]["level"], "fatal");
    assert!(alert["version"].is_null() && alert["ja3s"].is_null());
    let hrr = recs.iter().find(|r| r["server_port"] == 4434).unwrap();
    assert_eq!(hrr["hello_retry"], true);
    assert_eq!(
        hrr["versions_offered"],
        serde_json::json!(["TLS 1.3", "TLS 1.2", "TLS 1.1", "TLS 1.0"])
    );
}

#[test]
fn procore_policy_flags_old_clients_and_exits_1() {
    let o = helloscope(&[
        "analyze",
        "--format",
        "jsonl",
        "--policy",
        "procore",
        "captures/openssl.pcap",
        "captures/ipv6.pcap",
    ]);
    assert_eq!(o.status.code(), Some(1), "breaks/failing found: exit 1");
    for r in jsonl(&o) {
        if !r["sni"].as_str().unwrap().ends_with(".procore.com") {
            assert!(
                r.get("policy").is_none(),
                "only procore hosts are judged: {r}"
            );
            continue;
        }
        let offered = r["version_offered_max"].as_str().unwrap();
        let verdict = r["policy"]["verdict"].as_str().unwrap();
        let expected = match (offered, r["outcome"].as_str().unwrap()) {
            ("TLS 1.0" | "TLS 1.1", "alert") => "failing",
            ("TLS 1.0" | "TLS 1.1", _) => "breaks",
            (_, "alert") => "failing",
            _ => "ready",
        };
        assert_eq!(verdict, expected, "{r}");
        assert_eq!(r["policy"]["profile"], "procore");
        let codes = finding_codes(&r);
        // openssl (a library client) on app.procore.com is told to move; Chromium is not.
        let legacy = r["sni"] == "app.procore.com" && r["server_port"] == 4441;
        assert_eq!(codes.contains(&"legacy_host"), legacy, "{r}");
    }
}

#[test]
fn onepagecrm_only_judges_its_hosts_and_clean_run_exits_0() {
    let o = helloscope(&[
        "analyze",
        "--format",
        "jsonl",
        "--policy",
        "onepagecrm",
        "captures/curl.pcapng",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let recs = jsonl(&o);
    let judged: Vec<&Value> = recs.iter().filter(|r| r.get("policy").is_some()).collect();
    assert_eq!(judged.len(), 1);
    assert_eq!(judged[0]["sni"], "apitls12.onepagecrm.com");
    assert_eq!(judged[0]["policy"]["verdict"], "ready");
}

#[test]
fn ad_hoc_min_version_with_host_pattern() {
    let o = helloscope(&[
        "analyze",
        "--format",
        "jsonl",
        "--min-version",
        "1.3",
        "--host",
        "*.procore.com",
        "captures/libraries.pcap",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let recs = jsonl(&o);
    let java10 = recs
        .iter()
        .find(|r| r["version_offered_max"] == "TLS 1.0")
        .unwrap();
    assert_eq!(java10["policy"]["verdict"], "breaks");
    assert_eq!(java10["policy"]["profile"], "custom");
}

#[test]
fn table_csv_and_report() {
    let o = helloscope(&[
        "analyze",
        "--format",
        "table",
        "--policy",
        "procore",
        "--report",
        "captures/openssl.pcap",
    ]);
    let text = stdout(&o);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    for col in [
        "CLIENT",
        "SERVER",
        "SNI",
        "OFFERS",
        "NEGOTIATED",
        "OUTCOME",
        "POLICY",
    ] {
        assert!(header.contains(col), "{header}");
    }
    assert!(text.contains("alert protocol_version (server)"));
    // 4 distinct TLS 1.0/1.1 client fingerprints on procore hosts in this capture: s_client -tls1
    // and -tls1_1, each to api (breaks) and login (failing), share JA4 per version.
    assert!(
        text.contains(
            "procore: 2 clients will break when TLS 1.0/1.1 is disabled (2 already failing)"
        ),
        "{text}"
    );
    assert!(text.contains("VERDICT") && text.contains("failing (procore)"));

    let o = helloscope(&["analyze", "--format", "csv", "captures/curl.pcapng"]);
    let text = stdout(&o);
    let rows: Vec<&str> = text.lines().collect();
    assert!(rows[0].starts_with("ts,source,client_ip,client_port,server_ip,server_port,sni"));
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().skip(1).all(|r| r.contains("curl.pcapng")));
}

#[test]
fn output_file_and_stdin() {
    let dir = std::env::temp_dir().join(format!("helloscope-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("flows.jsonl");
    let o = helloscope(&["analyze", "-o", out.to_str().unwrap(), "captures/ipv6.pcap"]);
    assert_eq!(o.status.code(), Some(0));
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 3, "jsonl to a file by default");

    let pcap =
        std::fs::File::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/ipv6.pcap"))
            .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_helloscope"))
        .args(["analyze", "--format", "jsonl", "-"])
        .stdin(pcap)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let recs = jsonl(&o);
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0]["source"], "-");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn errors_are_one_line_and_exit_2() {
    let o = helloscope(&["analyze", "no/such/file.pcap"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.starts_with("helloscope: no/such/file.pcap:"), "{err}");
    assert!(err.contains("No such file"), "{err}");

    let o = helloscope(&["analyze", "--policy", "nosuch", "captures/ipv6.pcap"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown policy \"nosuch\""));

    let o = helloscope(&["analyze", "--bogus-flag", "x"]);
    assert_eq!(o.status.code(), Some(2), "usage errors exit 2");

    let o = helloscope(&["analyze", "Cargo.toml"]);
    assert_eq!(o.status.code(), Some(2), "not a capture");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).lines().count(),
        2,
        "one message and the summary at most"
    );
}

#[test]
fn decode_prints_fields_and_fingerprints() {
    let hex: String = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("crates/helloscope-tls/testdata/curl-7.88.1-clienthello.bin"),
    )
    .unwrap()
    .iter()
    .map(|b| format!("{b:02x}"))
    .collect();
    let o = helloscope(&["decode", &hex]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    for want in [
        "ClientHello",
        "server_name",
        "api.procore.com",
        "ja3 ",
        "ja4 ",
        "ja4_r",
        "versions_offered      TLS 1.3, TLS 1.2",
    ] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
    let o = helloscope(&["decode", "zz"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn policy_file_with_host_ips_and_legacy_hosts() {
    let dir = std::env::temp_dir().join(format!("helloscope-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("policy.toml");
    std::fs::write(
        &file,
        r#"
[[policy]]
profile = "vendor"
hosts = ["login.procore.com"]
host_ips = ["::1/128"]
min_version = "1.3"

[[policy.legacy_host]]
host = "login.procore.com"
message = "use sso.vendor.example"
"#,
    )
    .unwrap();
    let o = helloscope(&[
        "analyze",
        "--format",
        "jsonl",
        "--policy-file",
        file.to_str().unwrap(),
        "captures/openssl.pcap",
        "captures/ipv6.pcap",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let recs = jsonl(&o);
    for r in &recs {
        let by_name = r["sni"] == "login.procore.com";
        let by_ip = r["server_ip"] == "::1";
        assert_eq!(r.get("policy").is_some(), by_name || by_ip, "{r}");
        if by_name {
            let codes = finding_codes(r);
            assert!(codes.contains(&"legacy_host"), "{r}");
        }
        if by_ip {
            // Chromium offers TLS 1.3; openssl -tls1_1 does not.
            let want = if r["version_offered_max"] == "TLS 1.3" {
                "ready"
            } else {
                "breaks"
            };
            assert_eq!(r["policy"]["verdict"], want, "{r}");
        }
    }
    std::fs::write(
        &file,
        "[[policy]]\nprofile = \"x\"\nmin_version = \"1.9\"\n",
    )
    .unwrap();
    let o = helloscope(&[
        "analyze",
        "--policy-file",
        file.to_str().unwrap(),
        "captures/ipv6.pcap",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown TLS version \"1.9\""));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn threads_give_the_same_records() {
    for file in [
        "captures/openssl.pcap",
        "captures/libraries.pcap",
        "captures/ipv6.pcap",
        "captures/curl.pcapng",
    ] {
        let sorted = |threads: &str| {
            let o = helloscope(&["analyze", "--format", "jsonl", "--threads", threads, file]);
            assert_eq!(o.status.code(), Some(0));
            let mut v: Vec<String> = jsonl(&o).iter().map(|r| r.to_string()).collect();
            v.sort();
            v
        };
        let one = sorted("1");
        assert!(!one.is_empty());
        assert_eq!(sorted("2"), one, "{file}");
        assert_eq!(sorted("3"), one, "{file}");
    }
    // csv lines, the report and the exit status are prepared on the workers too.
    let run = |threads: &str| {
        let o = helloscope(&[
            "analyze",
            "--format",
            "csv",
            "--policy",
            "procore",
            "--report",
            "--threads",
            threads,
            "captures/openssl.pcap",
            "captures/ipv6.pcap",
        ]);
        let mut lines: Vec<String> = stdout(&o).lines().map(str::to_owned).collect();
        let header = lines.remove(0);
        lines.sort();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let report: Vec<String> = err
            .lines()
            .filter(|l| !l.starts_with("helloscope:"))
            .map(str::to_owned)
            .collect();
        (o.status.code(), header, lines, report)
    };
    let one = run("1");
    assert_eq!(one.0, Some(1));
    assert!(
        one.3.iter().any(|l| l.contains("clients will break")),
        "{:?}",
        one.3
    );
    assert_eq!(run("2"), one);
    // Tables are laid out on the calling thread from the workers' records.
    let table = |threads: &str| {
        let o = helloscope(&[
            "analyze",
            "--format",
            "table",
            "--threads",
            threads,
            "captures/openssl.pcap",
        ]);
        let mut rows: Vec<String> = stdout(&o).lines().map(str::to_owned).collect();
        rows.sort();
        (o.status.code(), rows)
    };
    let one = table("1");
    assert!(one.1.len() > 10, "{:?}", one.1);
    assert_eq!(table("2"), one);
}

/// A classic pcap file of connections that each send a ClientHello and wait, stamped in a
/// capture whose time jumps: a year ahead for a few packets (fewer than the clock takes as
/// a jump), back, ahead for good with gaps past the idle timeout, back for a few.
fn write_jumping_capture(path: &Path, variant: u16) {
    let hello = include_bytes!("../crates/helloscope-tls/testdata/curl-7.88.1-clienthello.bin");
    let year = 365 * 86_400u64;
    let t0 = 1_690_000_000u64;
    let mut b = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 262_144, 1] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    let lots: [(u8, u8, u64, u64); 7] = [
        (1, 6, t0, 10),
        (2, 3, t0 + year, 1),
        (3, 6, t0 + 100, 50),
        (4, 12, t0 + year + 10, 3),
        (5, 4, t0 + year + 400, 90),
        (6, 2, t0 + 500, 1),
        (7, 6, t0 + year + 900, 7),
    ];
    for (net, n, start, step) in lots {
        for h in 0..n {
            let port = 20_000 + variant * 97 + u16::from(net) * 13 + u16::from(h);
            let (client, server) = ([10, 1, net, h + 1], [192, 0, 2, 1]);
            let secs = start + step * u64::from(h);
            for (i, (to_client, syn, payload)) in [
                (false, true, &[][..]),
                (true, true, &[][..]),
                (false, false, &[][..]),
                (false, false, &hello[..]),
            ]
            .into_iter()
            .enumerate()
            {
                let eth =
                    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
                // A SYN takes one sequence number: the data after it starts one on.
                let builder = if to_client {
                    eth.ipv4(server, client, 64)
                        .tcp(443, port, 7000, 65535)
                        .syn()
                        .ack(1001)
                } else {
                    let tcp = eth.ipv4(client, server, 64);
                    if syn {
                        tcp.tcp(port, 443, 1000, 65535).syn()
                    } else {
                        tcp.tcp(port, 443, 1001, 65535).ack(7001)
                    }
                };
                let mut frame = Vec::new();
                builder.write(&mut frame, payload).unwrap();
                let len = frame.len() as u32;
                for v in [secs as u32, i as u32 * 1000, len, len] {
                    b.extend_from_slice(&v.to_le_bytes());
                }
                b.extend_from_slice(&frame);
            }
        }
    }
    std::fs::write(path, b).unwrap();
}

/// Found on arkime_synthetic.pcap (stamped 2023 to 2025): `--threads 2` gave other records
/// than one thread, and other ones from run to run, each worker's table keeping a clock of
/// its own share of the packets (which follows the shard key, random per run). Several runs
/// of captures whose time jumps, the flows falling into shards in several ways: the records
/// and the counters of the clock are one thread's.
#[test]
fn threads_follow_one_clock_when_the_capture_jumps() {
    let dir = std::env::temp_dir().join(format!("hs-cli-jumps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("jumps.pcap");
    let file = path.to_str().unwrap();
    for variant in 0..3 {
        write_jumping_capture(&path, variant);
        let run = |threads: &str| {
            let o = helloscope(&["analyze", "--format", "jsonl", "--threads", threads, file]);
            assert_eq!(o.status.code(), Some(0));
            let mut v: Vec<String> = jsonl(&o).iter().map(|r| r.to_string()).collect();
            v.sort();
            let summary = String::from_utf8_lossy(&o.stderr);
            let counters = summary.split(", peak memory").next().unwrap().to_owned();
            (v, counters)
        };
        let one = run("1");
        assert_eq!(one.0.len(), 39, "every flow reported once");
        assert!(
            one.1.contains("stamped far from the capture's clock"),
            "{}",
            one.1
        );
        assert!(one.1.contains("idle flows timed out"), "{}", one.1);
        for _ in 0..3 {
            assert_eq!(run("2"), one, "variant {variant}");
            assert_eq!(run("3"), one, "variant {variant}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `captures/openssl.pcap` with every ClientHello's server_name extension turned into a
/// private-use extension (type 0xff00) of the same length: the same clients, the same servers'
/// answers, but no SNI. The file's other bytes are untouched (helloscope, like tshark by
/// default, does not check TCP checksums). Returns the path and how many hellos were changed.
fn openssl_pcap_without_sni(dir: &Path) -> (std::path::PathBuf, usize) {
    let mut b =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/openssl.pcap")).unwrap();
    let mut changed = 0;
    let mut i = 0;
    // server_name: type 0x0000, extension length L, list length L-2, name type 0 (host_name),
    // name length L-5, then the name (letters, digits, '-' and '.', with a dot).
    while i + 9 < b.len() {
        let u16_at = |j: usize| u16::from_be_bytes([b[j], b[j + 1]]) as usize;
        let (len, list, name) = (u16_at(i + 2), u16_at(i + 4), u16_at(i + 7));
        let is_sni = b[i] == 0
            && b[i + 1] == 0
            && b[i + 6] == 0
            && len >= 9
            && list + 2 == len
            && name + 5 == len
            && i + 9 + name <= b.len()
            && b[i + 9..i + 9 + name]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'.')
            && b[i + 9..i + 9 + name].contains(&b'.');
        if is_sni {
            b[i] = 0xff;
            changed += 1;
            i += 9 + name;
        } else {
            i += 1;
        }
    }
    let path = dir.join("openssl-without-sni.pcap");
    std::fs::write(&path, b).unwrap();
    (path, changed)
}

/// What README's verdict rule gives for a flow of captures/expected.jsonl under a minimum of
/// TLS 1.2: the version alerts in these captures are `failing`, a best offer below the minimum
/// `breaks`, anything else `ready`.
fn verdict_at_tls12(e: &Value) -> &'static str {
    if e["outcome"] == "alert" {
        "failing"
    } else if matches!(
        e["version_offered_max"].as_str(),
        Some("TLS 1.0" | "TLS 1.1")
    ) {
        "breaks"
    } else {
        "ready"
    }
}

fn expected_flows(file: &str) -> Vec<Value> {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/expected.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["file"] == file)
        .collect()
}

/// `--host-ip` without `--min-version` extends the built-in profile (and a policy file's):
/// flows without SNI to a listed server get the profile's verdict; without it (or with another
/// block) they are not judged.
#[test]
fn host_ip_extends_a_builtin_profile() {
    let dir = std::env::temp_dir().join(format!("helloscope-hostip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (pcap, changed) = openssl_pcap_without_sni(&dir);
    let pcap = pcap.to_str().unwrap();
    let expected = expected_flows("openssl.pcap");
    // One ClientHello per flow, two for the flow with a HelloRetryRequest.
    let hrr = expected.iter().filter(|e| e["hello_retry"] == true).count();
    assert_eq!(changed, expected.len() + hrr);

    for args in [
        &["--policy", "procore"][..],
        &["--policy", "procore", "--host-ip", "10.0.0.0/8"][..],
    ] {
        let o = helloscope(&[&["analyze", "--format", "jsonl"], args, &[pcap]].concat());
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        let recs = jsonl(&o);
        assert_eq!(recs.len(), expected.len());
        for r in &recs {
            assert!(r["sni"].is_null(), "{r}");
            assert!(r.get("policy").is_none(), "{args:?}: {r}");
        }
    }

    let o = helloscope(&[
        "analyze",
        "--format",
        "jsonl",
        "--policy",
        "procore",
        "--host-ip",
        "127.0.0.0/8",
        pcap,
    ]);
    assert_eq!(o.status.code(), Some(1), "clients that break: exit 1");
    let recs = jsonl(&o);
    assert_eq!(recs.len(), expected.len());
    for e in &expected {
        let r = recs
            .iter()
            .find(|r| r["client_port"] == e["client_port"])
            .unwrap_or_else(|| panic!("{e}: not reported"));
        assert!(r["sni"].is_null(), "{r}");
        assert_eq!(r["policy"]["profile"], "procore", "{r}");
        assert_eq!(r["policy"]["verdict"], verdict_at_tls12(e), "{e} -> {r}");
    }

    // A policy file's policies are extended the same way.
    let file = dir.join("policy.toml");
    std::fs::write(
        &file,
        "[[policy]]\nprofile = \"vendor\"\nhosts = [\"*.vendor.example\"]\nmin_version = \"1.2\"\n",
    )
    .unwrap();
    let o = helloscope(&[
        "analyze",
        "--format",
        "jsonl",
        "--policy-file",
        file.to_str().unwrap(),
        "--host-ip",
        "127.0.0.1",
        pcap,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let recs = jsonl(&o);
    assert_eq!(recs.len(), expected.len());
    for e in &expected {
        let r = recs
            .iter()
            .find(|r| r["client_port"] == e["client_port"])
            .unwrap();
        assert_eq!(r["policy"]["profile"], "vendor", "{r}");
        assert_eq!(r["policy"]["verdict"], verdict_at_tls12(e), "{e} -> {r}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `--host` without `--min-version` extends the profile too: the onepagecrm flow of
/// openssl.pcap is judged under procore's minimum when its host is added.
#[test]
fn host_extends_a_builtin_profile() {
    let o = helloscope(&[
        "analyze",
        "--format",
        "jsonl",
        "--policy",
        "procore",
        "--host",
        "*.onepagecrm.com",
        "captures/openssl.pcap",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let recs = jsonl(&o);
    let expected = expected_flows("openssl.pcap");
    assert_eq!(recs.len(), expected.len());
    let mut onepagecrm = 0;
    for e in &expected {
        let r = recs
            .iter()
            .find(|r| r["client_port"] == e["client_port"])
            .unwrap();
        assert_eq!(r["policy"]["profile"], "procore", "{r}");
        assert_eq!(r["policy"]["verdict"], verdict_at_tls12(e), "{e} -> {r}");
        onepagecrm += usize::from(r["sni"] == "apitls12.onepagecrm.com");
    }
    assert_eq!(onepagecrm, 1);
}

/// With `--min-version`, `--host-ip` forms an ad-hoc policy of its own and does not extend the
/// built-in one; without `--min-version` and without a policy to extend it is a usage error.
#[test]
fn host_ip_with_min_version_is_an_ad_hoc_policy() {
    let dir = std::env::temp_dir().join(format!("helloscope-adhoc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (pcap, _) = openssl_pcap_without_sni(&dir);
    let pcap = pcap.to_str().unwrap();
    let o = helloscope(&[
        "analyze",
        "--format",
        "jsonl",
        "--policy",
        "procore",
        "--min-version",
        "1.3",
        "--host-ip",
        "127.0.0.1",
        pcap,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let recs = jsonl(&o);
    let expected = expected_flows("openssl.pcap");
    assert_eq!(recs.len(), expected.len());
    for e in &expected {
        let r = recs
            .iter()
            .find(|r| r["client_port"] == e["client_port"])
            .unwrap();
        // Not procore: it has no address and these hellos no SNI.
        assert_eq!(r["policy"]["profile"], "custom", "{r}");
        let want = if e["outcome"] == "alert" {
            "failing"
        } else if e["version_offered_max"] == "TLS 1.3" {
            "ready"
        } else {
            "breaks"
        };
        assert_eq!(r["policy"]["verdict"], want, "{e} -> {r}");
    }

    for (args, says) in [
        (
            &["--host-ip", "127.0.0.1"][..],
            "--host and --host-ip extend a --policy or --policy-file",
        ),
        (
            &["--host", "*.procore.com"][..],
            "--host and --host-ip extend",
        ),
        (&["--min-version", "1.2"][..], "--min-version needs --host"),
        (
            &["--policy", "procore", "--host-ip", "127.0.0.300"][..],
            "bad address \"127.0.0.300\"",
        ),
        (
            &["--policy", "procore", "--host-ip", "10.0.0.0/33"][..],
            "bad prefix",
        ),
    ] {
        let o = helloscope(&[&["analyze"], args, &[pcap]].concat());
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// QUIC and DTLS through the CLI: the records say their transport, and `decode` reads a QUIC
/// client Initial (RFC 9001 Appendix A.2, hex in a file) and a real DTLS ClientHello datagram
/// (the first of captures/dtls.pcap, openssl s_client -dtls1_2).
#[test]
fn quic_and_dtls_records_and_decode() {
    let o = helloscope(&[
        "analyze",
        "--format",
        "jsonl",
        "captures/quic.pcap",
        "captures/dtls.pcap",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let recs = jsonl(&o);
    assert_eq!(recs.len(), 12);
    assert_eq!(recs.iter().filter(|r| r["transport"] == "quic").count(), 6);
    assert_eq!(recs.iter().filter(|r| r["transport"] == "dtls").count(), 6);
    assert!(recs
        .iter()
        .any(|r| r["transport"] == "quic" && r["quic_version"] == "v2"));
    let o = helloscope(&[
        "decode",
        "crates/helloscope-tls/testdata/quic/rfc9001-a2-client-initial.hex",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    for want in [
        "QUIC Initial packet, version v1",
        "example.com",
        "q13d0211an_",
    ] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
    let mut src = helloscope_capture::PacketSource::open_file("captures/dtls.pcap").unwrap();
    let link = src.link_type();
    let p = src.next_packet().unwrap().unwrap();
    let d = helloscope_capture::udp::decode_udp(link, p.data).unwrap();
    let hex: String = d.payload.iter().map(|b| format!("{b:02x}")).collect();
    let o = helloscope(&["decode", &hex]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    for want in [
        "DTLS 1.",
        "client_hello message_seq 0",
        "cookie                0 bytes",
        "dtls.procore.com",
        "ja4                   dd2d",
    ] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
}
