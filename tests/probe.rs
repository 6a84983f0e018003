//! `helloscope probe` against servers these tests start on 127.0.0.1: `openssl s_server` with
//! the versions and ciphers of each test pinned (the expected answers follow from that
//! configuration), and small Rust servers that reset, stay silent, send an alert, or misbehave.
//! Nothing here connects anywhere else.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "../benches/gen/mod.rs"]
mod gen;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_helloscope")
}

fn have_openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: openssl is not installed");
    }
    ok
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("helloscope-probe-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A port nothing listens on (the listener that found it is closed again).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An `openssl s_server` on 127.0.0.1, killed when dropped.
struct SServer {
    child: Child,
    port: u16,
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ciphers pinned as captures/record.sh pins them, so that the cipher chosen follows from the
/// version: TLS 1.2 -> ECDHE-RSA-AES128-GCM-SHA256, TLS 1.0/1.1 -> ECDHE-RSA-AES128-SHA,
/// TLS 1.3 -> TLS_AES_256_GCM_SHA384. SECLEVEL=0 lets OpenSSL 3 speak TLS 1.0 and 1.1.
const CIPHERS: &str = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA:@SECLEVEL=0";
const SUITES: &str = "TLS_AES_256_GCM_SHA384";

fn s_server(name: &str, extra: &[&str]) -> SServer {
    let dir = tmpdir(name);
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let st = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=api.procore.com", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    for _ in 0..5 {
        let port = free_port();
        let child = Command::new("openssl")
            .arg("s_server")
            .args(["-accept", &format!("127.0.0.1:{port}"), "-cert"])
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .args(["-cipher", CIPHERS, "-ciphersuites", SUITES, "-serverpref"])
            .args(["-www", "-quiet"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut s = SServer { child, port };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return s;
            }
            if s.child.try_wait().unwrap().is_some() {
                break; // the port was taken meanwhile; try another
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = s.child.kill();
    }
    panic!("openssl s_server did not start");
}

struct Run {
    code: i32,
    hosts: Vec<Value>,
    stdout: String,
    stderr: String,
}

fn probe(port: u16, extra: &[&str]) -> Run {
    let o = Command::new(bin())
        .args(["probe", "--format", "jsonl", "--sni", "api.procore.com"])
        .args(extra)
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    eprintln!("{stdout}{stderr}");
    Run {
        code: o.status.code().unwrap(),
        hosts: stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        stdout,
        stderr,
    }
}

fn result<'a>(host: &'a Value, offered: &str) -> &'a Value {
    host["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["offered"] == offered)
        .unwrap_or_else(|| panic!("no result for {offered}"))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[test]
fn openssl_tls10_to_tls13() {
    if !have_openssl() {
        return;
    }
    let s = s_server(
        "any",
        &["-min_protocol", "TLSv1", "-max_protocol", "TLSv1.3"],
    );
    let r = probe(s.port, &["--policy", "procore"]);
    assert_eq!(r.hosts.len(), 1);
    let h = &r.hosts[0];
    assert_eq!(h["host"], "127.0.0.1");
    assert_eq!(h["port"], s.port);
    assert_eq!(h["sni"], "api.procore.com");
    assert_eq!(
        strings(&h["accepted"]),
        ["TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"]
    );
    // OpenSSL 3 has no SSL 3.0 at all.
    assert_ne!(result(h, "SSL 3.0")["outcome"], "accepted");
    for (v, cipher, sentinel) in [
        (
            "TLS 1.0",
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
            Some("DOWNGRD\\x00"),
        ),
        (
            "TLS 1.1",
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
            Some("DOWNGRD\\x00"),
        ),
        (
            "TLS 1.2",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            Some("DOWNGRD\\x01"),
        ),
        ("TLS 1.3", "TLS_AES_256_GCM_SHA384", None),
    ] {
        let x = result(h, v);
        assert_eq!(x["outcome"], "accepted", "{v}");
        assert_eq!(x["version"], v);
        assert_eq!(x["cipher"], cipher, "{v}");
        assert_eq!(x["downgrade_sentinel"].as_str(), sentinel, "{v}");
    }
    // A TLS 1.3 server told "I fell back to TLS 1.2" answers inappropriate_fallback.
    assert_eq!(h["fallback_scsv"]["result"], "honoured");
    assert_eq!(h["fallback_scsv"]["offered"], "TLS 1.2");
    assert_eq!(h["downgrade_sentinel"], "present");
    // Ready for a TLS 1.2-only peer, but still accepts 1.0 and 1.1: flagged, exit 1.
    let p = &h["policies"][0];
    assert_eq!(p["profile"], "procore");
    assert_eq!(p["verdict"], "ready");
    let findings: Vec<&str> = p["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert!(findings[0].contains("TLS 1.0") && findings[1].contains("TLS 1.1"));
    assert_eq!(r.code, 1);
}

#[test]
fn openssl_tls12_only() {
    if !have_openssl() {
        return;
    }
    let s = s_server(
        "tls12",
        &["-min_protocol", "TLSv1.2", "-max_protocol", "TLSv1.2"],
    );
    let r = probe(s.port, &["--policy", "procore"]);
    let h = &r.hosts[0];
    assert_eq!(strings(&h["accepted"]), ["TLS 1.2"]);
    let x = result(h, "TLS 1.2");
    assert_eq!(x["cipher"], "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    // A server without TLS 1.3 writes no TLS 1.2 sentinel.
    assert_eq!(x["downgrade_sentinel"], Value::Null);
    for v in ["TLS 1.0", "TLS 1.1", "TLS 1.3"] {
        let x = result(h, v);
        assert_eq!(x["outcome"], "alert", "{v}");
        assert_eq!(x["alert"]["description"], "protocol_version", "{v}");
    }
    assert_eq!(h["downgrade_sentinel"], "not_applicable");
    // The fallback hello (TLS 1.1) is below what it supports at all: OpenSSL refuses the
    // version before it looks at the SCSV, so no conclusion.
    assert_eq!(h["fallback_scsv"]["offered"], "TLS 1.1");
    assert_eq!(h["fallback_scsv"]["result"], "inconclusive");
    assert_eq!(
        h["fallback_scsv"]["alert"]["description"],
        "protocol_version"
    );
    assert_eq!(h["policies"][0]["verdict"], "ready");
    assert_eq!(h["policies"][0]["findings"], serde_json::json!([]));
    assert_eq!(r.code, 0);

    // A policy whose minimum the server does not reach.
    let r = probe(s.port, &["--min-version", "1.3", "--no-fallback-probe"]);
    let h = &r.hosts[0];
    assert_eq!(h["policies"][0]["profile"], "custom");
    assert_eq!(h["policies"][0]["verdict"], "breaks");
    assert_eq!(h["fallback_scsv"]["result"], "not_tested");
    assert_eq!(r.code, 1);
}

#[test]
fn openssl_tls13_only_and_hello_retry() {
    if !have_openssl() {
        return;
    }
    let s = s_server(
        "tls13",
        &["-min_protocol", "TLSv1.3", "-max_protocol", "TLSv1.3"],
    );
    let r = probe(s.port, &[]);
    let h = &r.hosts[0];
    assert_eq!(strings(&h["accepted"]), ["TLS 1.3"]);
    assert_eq!(result(h, "TLS 1.3")["cipher"], "TLS_AES_256_GCM_SHA384");
    assert_eq!(result(h, "TLS 1.2")["outcome"], "alert");
    assert_eq!(h["fallback_scsv"]["offered"], "TLS 1.2");
    assert_eq!(r.code, 0);
    drop(s);

    // The probe's key share is x25519; a server that wants P-384 asks for it again.
    let s = s_server(
        "hrr",
        &[
            "-min_protocol",
            "TLSv1.3",
            "-max_protocol",
            "TLSv1.3",
            "-groups",
            "P-384",
        ],
    );
    let r = probe(s.port, &["--no-fallback-probe"]);
    let h = &r.hosts[0];
    let x = result(h, "TLS 1.3");
    assert_eq!(x["outcome"], "hello_retry_request");
    assert_eq!(x["version"], "TLS 1.3");
    assert_eq!(strings(&h["accepted"]), ["TLS 1.3"]);
}

/// A Rust server on 127.0.0.1 that answers every connection with `answer`, keeping what each
/// client sent first (up to one record) in `seen`.
struct Fake {
    port: u16,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
}

fn fake(answer: fn(&mut TcpStream, &[u8])) -> Fake {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let keep = keep.clone();
            thread::spawn(move || {
                let hello = read_record(&mut c);
                keep.lock().unwrap().push(hello.clone());
                answer(&mut c, &hello);
            });
        }
    });
    Fake { port, seen }
}

/// One TLS record, read with a deadline.
fn read_record(c: &mut TcpStream) -> Vec<u8> {
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 5];
    if c.read_exact(&mut buf).is_err() {
        return buf;
    }
    let len = u16::from_be_bytes([buf[3], buf[4]]) as usize;
    buf.resize(5 + len, 0);
    let _ = c.read_exact(&mut buf[5..]);
    buf
}

fn all_outcomes(h: &Value) -> Vec<&str> {
    h["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect()
}

#[test]
fn server_that_resets() {
    // Closing a socket with unread data sends RST (RFC 2525 §2.17), as SO_LINGER 0 would:
    // read only the record header, then drop.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let mut head = [0u8; 5];
            let _ = c.read_exact(&mut head);
            thread::sleep(Duration::from_millis(50));
        }
    });
    let r = probe(port, &["--timeout", "3", "--policy", "procore"]);
    let h = &r.hosts[0];
    assert_eq!(all_outcomes(h), ["reset"; 5]);
    assert_eq!(strings(&h["accepted"]), Vec::<&str>::new());
    assert_eq!(h["fallback_scsv"]["result"], "not_tested");
    assert_eq!(h["policies"][0]["verdict"], "breaks");
    assert_eq!(r.code, 1);
}

#[test]
fn server_that_sends_an_alert() {
    // handshake_failure to every hello, then close.
    let f = fake(|c, _| {
        let _ = c.write_all(&[21, 3, 3, 0, 2, 2, 40]);
    });
    let r = probe(f.port, &["--timeout", "3"]);
    let h = &r.hosts[0];
    for x in h["results"].as_array().unwrap() {
        assert_eq!(x["outcome"], "alert");
        assert_eq!(x["alert"]["level"], "fatal");
        assert_eq!(x["alert"]["description"], "handshake_failure");
    }
    assert_eq!(f.seen.lock().unwrap().len(), 5);
    assert_eq!(r.code, 0);
}

/// The hellos the probe sent, written into a pcap as five client flows and read back by
/// `helloscope analyze`: each offers exactly the version it was meant to.
fn analyze_hellos(name: &str, hellos: &[Vec<u8>]) -> Vec<Value> {
    let path = tmpdir("roundtrip").join(format!("{name}.pcap"));
    let out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut w = gen::PcapWriter::new(out);
    let server = ([127, 0, 0, 1], 443);
    for (i, h) in hellos.iter().enumerate() {
        let client = ([127, 0, 0, 1], 40000 + i as u16);
        w.tcp(client, server, 0, 0, 0x02, &[]);
        w.tcp(server, client, 0, 1, 0x12, &[]);
        w.tcp(client, server, 1, 1, 0x18, h);
    }
    w.w.flush().unwrap();
    drop(w);
    analyze(&path)
}

fn analyze(path: &Path) -> Vec<Value> {
    let o = Command::new(bin())
        .args(["analyze", "--format", "jsonl"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn silent_server_and_round_trip_through_analyze() {
    // Never answers; holds each connection open past the probe's timeout.
    let f = fake(|_, _| thread::sleep(Duration::from_secs(4)));
    let start = Instant::now();
    let r = probe(f.port, &["--timeout", "1"]);
    let h = &r.hosts[0];
    assert_eq!(all_outcomes(h), ["timeout"; 5]);
    assert_eq!(h["fallback_scsv"]["result"], "not_tested");
    // No policy, reachable: exit 0. Five connections of at most a second each.
    assert_eq!(r.code, 0);
    assert!(start.elapsed() < Duration::from_secs(30));

    let hellos = f.seen.lock().unwrap().clone();
    assert_eq!(hellos.len(), 5);
    let records = analyze_hellos("silent", &hellos);
    assert_eq!(records.len(), 5, "{records:?}");
    let mut offered: Vec<(Vec<&str>, Option<&str>)> = records
        .iter()
        .map(|r| (strings(&r["versions_offered"]), r["sni"].as_str()))
        .collect();
    offered.sort_by_key(|(v, _)| v.first().map(|s| s.to_string()));
    assert_eq!(
        offered,
        [
            (vec!["SSL 3.0"], None),
            (vec!["TLS 1.0"], Some("api.procore.com")),
            (vec!["TLS 1.1"], Some("api.procore.com")),
            (vec!["TLS 1.2"], Some("api.procore.com")),
            (vec!["TLS 1.3"], Some("api.procore.com")),
        ]
    );
    for r in &records {
        assert_eq!(r["fallback_scsv"], false);
    }
}

#[test]
fn fallback_hello_round_trips_with_its_scsv() {
    // Accepts TLS 1.2 with a minimal ServerHello, refuses everything else.
    let f = fake(|c, hello| {
        // legacy_version at byte 9 of the record (after record and handshake headers).
        if hello.len() > 11
            && hello[9..11] == [3, 3]
            && !hello.windows(3).any(|w| w == [0x2b, 0, 3])
        {
            let mut body = vec![3, 3];
            body.extend([0x11; 32]);
            body.extend([0, 0xc0, 0x2f, 0]);
            let mut rec = vec![22, 3, 3, 0, body.len() as u8 + 4, 2, 0, 0, body.len() as u8];
            rec.extend(body);
            let _ = c.write_all(&rec);
        } else {
            let _ = c.write_all(&[21, 3, 3, 0, 2, 2, 70]);
        }
        thread::sleep(Duration::from_millis(200));
    });
    let r = probe(f.port, &["--timeout", "3"]);
    let h = &r.hosts[0];
    assert_eq!(strings(&h["accepted"]), ["TLS 1.2"]);
    // A TLS 1.1 hello with the SCSV gets protocol_version here: inconclusive.
    assert_eq!(h["fallback_scsv"]["result"], "inconclusive");
    assert_eq!(
        h["fallback_scsv"]["alert"]["description"],
        "protocol_version"
    );
    let hellos = f.seen.lock().unwrap().clone();
    assert_eq!(hellos.len(), 6);
    let records = analyze_hellos("fallback", &hellos[5..]);
    assert_eq!(strings(&records[0]["versions_offered"]), ["TLS 1.1"]);
    assert_eq!(records[0]["fallback_scsv"], true);
}

#[test]
fn hostile_servers_are_bounded() {
    // Drips a valid-looking record one byte every 100 ms: the deadline covers the whole reply.
    let drip = fake(|c, _| {
        for b in [22u8, 3, 3, 0x40, 0].iter().chain([0u8; 100].iter()) {
            if c.write_all(&[*b]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
    });
    let start = Instant::now();
    let r = probe(drip.port, &["--timeout", "1", "--no-fallback-probe"]);
    assert_eq!(all_outcomes(&r.hosts[0]), ["timeout"; 5]);
    assert!(start.elapsed() < Duration::from_secs(30));

    // An endless handshake message in full-size records: stopped at the byte cap.
    let flood = fake(|c, _| {
        let mut first = vec![22, 3, 3, 0x40, 0, 2, 0x00, 0xff, 0xfa];
        first.resize(5 + 0x4000, 0);
        if c.write_all(&first).is_err() {
            return;
        }
        let mut rec = vec![22, 3, 3, 0x40, 0];
        rec.resize(5 + 0x4000, 0);
        for _ in 0..100 {
            if c.write_all(&rec).is_err() {
                return;
            }
        }
    });
    let r = probe(flood.port, &["--timeout", "5", "--no-fallback-probe"]);
    assert_eq!(all_outcomes(&r.hosts[0]), ["too_long"; 5]);

    // Not TLS at all.
    let http = fake(|c, _| {
        let _ = c.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    });
    let r = probe(http.port, &["--timeout", "3", "--no-fallback-probe"]);
    assert_eq!(all_outcomes(&r.hosts[0]), ["malformed"; 5]);
    assert!(r.stdout.contains("not a TLS record"));
}

#[test]
fn unreachable_and_usage_errors_exit_2() {
    let port = free_port();
    let r = probe(port, &["--timeout", "2", "--policy", "procore"]);
    assert_eq!(all_outcomes(&r.hosts[0]), ["connect_failed"; 5]);
    assert_eq!(r.hosts[0]["policies"][0]["verdict"], "unreachable");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains(&format!(
        "127.0.0.1:{port} unreachable: no connection succeeded"
    )));
    for bad in [
        vec!["probe", "127.0.0.1:notaport"],
        vec!["probe", "--timeout", "0", "127.0.0.1:1"],
        vec!["probe", "--policy", "nosuch", "127.0.0.1:1"],
        vec!["probe"],
    ] {
        let o = Command::new(bin()).args(&bad).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        assert!(o.stdout.is_empty(), "{bad:?}");
    }
}

#[test]
fn a_name_is_its_own_sni_and_every_address_is_tried() {
    // `localhost` may resolve to ::1 first; the fake listens on 127.0.0.1 only, so the probe
    // has to move on to the address that takes the connection.
    let f = fake(|c, _| {
        let _ = c.write_all(&[21, 3, 3, 0, 2, 2, 40]);
    });
    let o = Command::new(bin())
        .args(["probe", "--format", "jsonl", "--timeout", "3"])
        .arg(format!("localhost:{}", f.port))
        .output()
        .unwrap();
    let h: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(h["host"], "localhost");
    assert_eq!(h["sni"], "localhost");
    assert_eq!(h["address"], "127.0.0.1");
    assert_eq!(all_outcomes(&h), ["alert"; 5]);
    let hellos = f.seen.lock().unwrap().clone();
    let records = analyze_hellos("localhost", &hellos);
    assert_eq!(records.len(), 5);
    for r in records {
        // SSL 3.0 has no extensions, so no server_name.
        let ssl3 = r["versions_offered"][0] == "SSL 3.0";
        assert_eq!(
            r["sni"],
            if ssl3 {
                Value::Null
            } else {
                "localhost".into()
            }
        );
    }
}

/// A probe run captured by tcpdump inside a private network namespace, against s_server
/// accepting TLS 1.0-1.3: `helloscope analyze` sees each connection offer exactly the version
/// probed, and the server choose what the probe reported. Needs root, `ip` and `tcpdump`.
#[test]
fn captured_probe_run_reads_back_through_analyze() {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n");
    let have = |c: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {c}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !(root && have("ip") && have("tcpdump") && have_openssl()) {
        eprintln!("skipped: needs root, ip, tcpdump and openssl");
        return;
    }
    let dir = tmpdir("netns");
    let pcap = dir.join("probe.pcap");
    let out = dir.join("probe.jsonl");
    let ns = format!("hs-probe-{}", std::process::id());
    // A container may run tests as root and still forbid namespaces.
    let added = Command::new("ip")
        .args(["netns", "add", &ns])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !added {
        eprintln!("skipped: cannot create a network namespace");
        return;
    }
    // Everything runs inside the namespace; its loopback is the only interface it has.
    let script = format!(
        r#"set -eu
ns={ns}; d={dir}
trap 'ip netns pids $ns | xargs -r kill; sleep 0.3; ip netns del $ns' EXIT
ip netns exec $ns ip link set lo up
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=api.procore.com \
  -keyout $d/key.pem -out $d/cert.pem 2>/dev/null
ip netns exec $ns tcpdump -i lo -U -w {pcap} 'tcp port 4431' 2>/dev/null &
ip netns exec $ns openssl s_server -accept 127.0.0.1:4431 -cert $d/cert.pem -key $d/key.pem \
  -cipher '{CIPHERS}' -ciphersuites {SUITES} -serverpref -www -quiet \
  -min_protocol TLSv1 -max_protocol TLSv1.3 >/dev/null 2>&1 &
for i in $(seq 50); do
  ip netns exec $ns bash -c 'exec 3<>/dev/tcp/127.0.0.1/4431' 2>/dev/null && break
  sleep 0.1
done
sleep 0.5
ip netns exec $ns {bin} probe --format jsonl --sni api.procore.com --timeout 3 127.0.0.1:4431 >{out} || true
sleep 1
"#,
        dir = dir.display(),
        pcap = pcap.display(),
        out = out.display(),
        bin = bin(),
    );
    let st = Command::new("bash").args(["-c", &script]).status().unwrap();
    assert!(st.success());
    let probed: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        strings(&probed["accepted"]),
        ["TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"]
    );
    // The readiness poll's connection carries no hello; every other one is a probe.
    let flows: Vec<Value> = analyze(&pcap)
        .into_iter()
        .filter(|r| !r["versions_offered"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(flows.len(), 6, "{flows:?}");
    let (mut plain, mut fallback): (Vec<_>, Vec<_>) =
        flows.iter().partition(|r| r["fallback_scsv"] == false);
    // Probes run one after the other, oldest version first: in the order of their first packet.
    plain.sort_by_key(|r| r["ts"].as_str().unwrap().to_string());
    for (flow, result) in plain.iter().zip(probed["results"].as_array().unwrap()) {
        assert_eq!(
            strings(&flow["versions_offered"]),
            [result["offered"].as_str().unwrap()]
        );
        if result["outcome"] == "accepted" {
            assert_eq!(flow["version"], result["version"]);
            assert_eq!(flow["cipher"], result["cipher"]);
        }
    }
    let f = fallback.pop().unwrap();
    assert_eq!(strings(&f["versions_offered"]), ["TLS 1.2"]);
    assert_eq!(f["alert"]["description"], "inappropriate_fallback");
}
