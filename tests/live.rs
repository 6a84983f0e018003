//! Live capture: `helloscope sniff -i lo` (as root, dropping to `nobody`) while a real
//! openssl client handshakes with a real openssl server on loopback. Skipped, saying so,
//! when not root or when the openssl command is missing.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn uid_of(pid: u32) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("Uid:"))?
        .split_whitespace()
        .nth(1)
        .map(str::to_owned)
}

#[test]
fn sniff_loopback_handshake() {
    if !is_root() {
        eprintln!("SKIPPED live capture test: sniffing needs root (or cap_net_raw)");
        return;
    }
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("SKIPPED live capture test: no openssl command");
        return;
    }
    let dir = std::env::temp_dir().join(format!("helloscope-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=live.procore.com",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let port = 40000 + (std::process::id() % 20000) as u16;

    let mut sniffer = Command::new(env!("CARGO_BIN_EXE_helloscope"))
        .args([
            "sniff",
            "-i",
            "lo",
            "-f",
            &format!("tcp port {port}"),
            "--format",
            "jsonl",
            "--user",
            "nobody",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A watchdog: whatever happens, the sniffer does not outlive the test by long.
    let pid = sniffer.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(30));
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
    });
    let mut err = BufReader::new(sniffer.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("listening on lo"), "{line}");
    assert_eq!(
        uid_of(sniffer.id()).as_deref(),
        Some("65534"),
        "privileges dropped to nobody"
    );

    let mut server = Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-www",
            "-quiet",
        ])
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let client = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "live.procore.com",
            "-tls1_2",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(client.is_ok());

    // The record streams out as soon as the flow is decided, before the sniffer stops.
    let mut out = BufReader::new(sniffer.stdout.take().unwrap());
    let mut record = String::new();
    let start = Instant::now();
    out.read_line(&mut record).unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    let _ = Command::new("kill")
        .args(["-TERM", &sniffer.id().to_string()])
        .status();
    let status = sniffer.wait().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();

    let r: serde_json::Value = serde_json::from_str(&record).unwrap();
    assert_eq!(r["source"], "lo");
    assert_eq!(r["sni"], "live.procore.com");
    assert_eq!(r["versions_offered"], serde_json::json!(["TLS 1.2"]));
    assert_eq!(r["version"], "TLS 1.2");
    assert_eq!(r["outcome"], "established");
    assert_eq!(r["server_port"], port);
    assert!(
        status.code() == Some(0),
        "clean stop on SIGTERM: {status:?} {rest}"
    );
    assert!(
        rest.contains("capture:") && rest.contains("received"),
        "capture statistics printed: {rest}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
