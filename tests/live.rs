//! Live capture: `helloscope sniff -i lo` (as root, dropping to `nobody`) while a real
//! openssl client handshakes with a real openssl server on loopback. Skipped, saying so,
//! when not root or when the openssl command is missing. Needs the `live` feature (libpcap).
#![cfg(feature = "live")]

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
    // Below Linux's ephemeral range (32768-60999): the other tests' thousands of client
    // connections can neither take this port first nor match the sniffer's filter.
    let port = 10000 + (std::process::id() % 10000) as u16;

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

// --- A sensor that runs for months: rotation, reopening, stopping ---------------------------

use std::collections::HashSet;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use helloscope_capture::{decode_tcp, PacketSource};

/// The first connection of a real capture (openssl s_client against s_server): every byte
/// the client sent before the server's first answer (its ClientHello), and the server's
/// first flight. Replayed over real loopback sockets, each connection is a TLS flow.
fn handshake_bytes() -> (Vec<u8>, Vec<u8>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/openssl.pcap");
    let mut src = PacketSource::open_file(path).unwrap();
    let link = src.link_type();
    let (mut client, mut server) = (Vec::new(), Vec::new());
    let mut conn = None;
    while let Some(p) = src.next_packet().unwrap() {
        let Ok(seg) = decode_tcp(link, p.data) else {
            continue;
        };
        let from = (seg.src, seg.src_port);
        let to = (seg.dst, seg.dst_port);
        if conn.is_none() && seg.syn && !seg.ack {
            conn = Some((from, to));
        }
        let Some((c, s)) = conn else { continue };
        if (from, to) == (c, s) && server.is_empty() {
            client.extend_from_slice(seg.payload);
        } else if (from, to) == (s, c) {
            if seg.payload.is_empty() && !server.is_empty() {
                break;
            }
            server.extend_from_slice(seg.payload);
        } else if (from, to) == (c, s) && !seg.payload.is_empty() {
            break; // the client's second flight: the server's first is whole
        }
    }
    assert!(
        client.len() > 100 && client[0] == 0x16,
        "a ClientHello record"
    );
    assert!(
        server.len() > 100 && server[0] == 0x16,
        "a ServerHello record"
    );
    (client, server)
}

/// A loopback server answering every connection with the server's first flight, once the
/// client's hello is read; it closes when the client does.
fn serve(port: u16, hello_len: usize, answer: Vec<u8>) {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut hello = vec![0; hello_len];
                if conn.read_exact(&mut hello).is_ok() && conn.write_all(&answer).is_ok() {
                    let _ = conn.read_to_end(&mut Vec::new());
                }
            });
        }
    });
}

/// One whole connection: hello, the server's flight, close. Returns the client's port.
fn connect_once(port: u16, hello: &[u8], answer_len: usize) -> u16 {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(hello).unwrap();
    let mut answer = vec![0; answer_len];
    c.read_exact(&mut answer).unwrap();
    c.local_addr().unwrap().port()
}

/// A `helloscope sniff` on loopback for one port, killed by a watchdog if a test goes wrong.
struct Sniffer {
    child: std::process::Child,
    dir: PathBuf,
}

impl Sniffer {
    fn start(name: &str, port: u16, extra: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("helloscope-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_helloscope"))
            .args(["sniff", "-i", "lo", "-f", &format!("tcp port {port}")])
            .args(["--format", "jsonl"])
            .args(extra)
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id().to_string();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(120));
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        });
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        assert!(line.contains("listening on lo"), "{line}");
        // The rest of standard error is read at the end; a pipe holds what comes meanwhile.
        child.stderr = Some(err.into_inner());
        Sniffer { child, dir }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// SIGTERM; the exit status and standard error.
    fn stop(mut self) -> (std::process::ExitStatus, String, PathBuf) {
        self.signal("TERM");
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (self.child.wait().unwrap(), err, self.dir.clone())
    }
}

/// A test that fails before `stop` does not leave its sniffer running.
impl Drop for Sniffer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines of `path` (0 when it does not exist), each checked to be a whole JSON record.
fn records_in(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{path:?} ends inside a line"
    );
    text.lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{path:?}: a split line? {e}: {l}"))
        })
        .collect()
}

/// Waits until `f` is true, up to `secs` seconds.
fn wait_for(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// "N TLS flows reported" and "M dropped by kernel" from the sniffer's closing lines.
fn summary(err: &str) -> (u64, u64) {
    let num_before = |what: &str| -> u64 {
        let i = err
            .find(what)
            .unwrap_or_else(|| panic!("{what:?} in {err}"));
        err[..i]
            .split_whitespace()
            .last()
            .and_then(|n| n.parse().ok())
            .unwrap()
    };
    (
        num_before(" TLS flows reported"),
        num_before(" dropped by kernel"),
    )
}

fn port_for(test: u16) -> u16 {
    20000 + test * 1000 + (std::process::id() % 1000) as u16
}

fn skip_unless_root(what: &str) -> bool {
    if !is_root() {
        eprintln!("SKIPPED {what}: sniffing needs root (or cap_net_raw)");
        return true;
    }
    false
}

/// Rotation by size and age while connections keep coming from four threads: every record
/// is in exactly one file, whole, and the files together hold every connection made.
#[test]
fn rotation_under_load_loses_no_record() {
    if skip_unless_root("rotation test") {
        return;
    }
    const PER_THREAD: usize = 1000;
    let (hello, answer) = handshake_bytes();
    let port = port_for(1);
    serve(port, hello.len(), answer.clone());
    let s = Sniffer::start(
        "rotate",
        port,
        &["-o", "out.jsonl", "--rotate-mib", "1", "--rotate-secs", "1"],
    );
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (hello, n) = (hello.clone(), answer.len());
            std::thread::spawn(move || {
                (0..PER_THREAD)
                    .map(|_| connect_once(port, &hello, n))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let ports: Vec<u16> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let made = ports.len();
    let dir = s.dir.clone();
    let files = |dir: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("out.jsonl")
            })
            .collect();
        v.sort();
        v
    };
    // Records come out as flows close; then stop.
    wait_for(20, || {
        files(&dir)
            .iter()
            .map(|f| records_in(f).len())
            .sum::<usize>()
            >= made
    });
    let (status, err, dir) = s.stop();
    assert_eq!(status.code(), Some(0), "{err}");
    let (reported, dropped) = summary(&err);
    assert_eq!(
        dropped, 0,
        "the kernel dropped packets: the count below would mean nothing"
    );
    let files = files(&dir);
    assert!(
        files.len() >= 3,
        "over 3 MB of records at 1 MiB a file: {files:?}"
    );
    let mut seen = HashSet::new();
    for f in &files {
        for r in records_in(f) {
            assert_eq!(r["server_port"], port);
            let key = (r["client_port"].as_u64().unwrap(), r["ts"].to_string());
            assert!(seen.insert(key), "a record written twice: {r}");
        }
    }
    assert_eq!(
        seen.len() as u64,
        reported,
        "every record reported is in a file"
    );
    assert_eq!(seen.len(), made, "one record per connection made");
    let rotated: HashSet<u64> = seen.iter().map(|k| k.0).collect();
    assert!(ports.iter().all(|p| rotated.contains(&(*p as u64))));
    std::fs::remove_dir_all(&dir).ok();
}

/// SIGHUP (what logrotate sends after moving the file): records before it stay in the moved
/// file, records after it go to a new file at the path given.
#[test]
fn sighup_reopens_the_output() {
    if skip_unless_root("SIGHUP test") {
        return;
    }
    let (hello, answer) = handshake_bytes();
    let port = port_for(2);
    serve(port, hello.len(), answer.clone());
    let s = Sniffer::start("hup", port, &["-o", "out.jsonl"]);
    let (out, moved) = (s.dir.join("out.jsonl"), s.dir.join("out.jsonl.1"));
    for _ in 0..5 {
        connect_once(port, &hello, answer.len());
    }
    assert!(wait_for(10, || records_in(&out).len() == 5));
    std::fs::rename(&out, &moved).unwrap();
    s.signal("HUP");
    assert!(wait_for(10, || out.exists()), "the path is opened again");
    for _ in 0..3 {
        connect_once(port, &hello, answer.len());
    }
    assert!(wait_for(10, || records_in(&out).len() == 3));
    let (status, err, dir) = s.stop();
    assert_eq!(
        status.code(),
        Some(0),
        "SIGHUP does not end the sniffer: {err}"
    );
    assert_eq!(records_in(&moved).len(), 5);
    assert_eq!(records_in(&out).len(), 3);
    assert_eq!(summary(&err).0, 8);
    std::fs::remove_dir_all(&dir).ok();
}

/// SIGTERM with handshakes in progress: each open flow is reported (its end says the capture
/// ended), the report file is written, SIGUSR1 printed the counters, and the exit status is 0.
#[test]
fn sigterm_flushes_open_flows_and_the_report() {
    if skip_unless_root("SIGTERM test") {
        return;
    }
    let (hello, _) = handshake_bytes();
    let port = port_for(3);
    // A server that reads and never answers: every flow waits for its ServerHello.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let s = Sniffer::start(
        "term",
        port,
        &[
            "-o",
            "out.jsonl",
            "--report-file",
            "report.txt",
            "--report-every",
            "1",
            "--stats-json",
        ],
    );
    let mut open = Vec::new();
    for _ in 0..4 {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.write_all(&hello).unwrap();
        let (mut accepted, _) = listener.accept().unwrap();
        let mut got = vec![0; hello.len()];
        accepted.read_exact(&mut got).unwrap();
        open.push((c, accepted));
    }
    // The report is written every second; it has no flow yet (none is decided).
    let report = s.dir.join("report.txt");
    assert!(
        wait_for(10, || report.exists()),
        "the periodic report is written"
    );
    let early = std::fs::read_to_string(&report).unwrap();
    assert!(
        early.contains("0 clients") && !early.contains("127.0.0.1"),
        "{early}"
    );
    let out = s.dir.join("out.jsonl");
    assert_eq!(records_in(&out).len(), 0, "no flow is decided yet");
    s.signal("USR1");
    std::thread::sleep(Duration::from_millis(500));
    let (status, err, dir) = s.stop();
    assert_eq!(status.code(), Some(0), "{err}");
    let records = records_in(&out);
    assert_eq!(records.len(), 4, "every open flow is reported: {err}");
    for r in &records {
        assert_eq!(r["end"], "end_of_capture");
        assert_eq!(r["server_port"], port);
    }
    // The counters line asked for by SIGUSR1, as JSON.
    let counters: serde_json::Value = err
        .lines()
        .find(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or_else(|| panic!("a JSON counters line: {err}"));
    assert_eq!(counters["flows"]["tls"], 4);
    assert_eq!(counters["records"], 0);
    assert!(counters["kernel"]["dropped"].is_u64());
    assert!(counters["memory_mib"]["rss"].as_u64().unwrap() > 0);
    // The report after the stop replaced it, and counts the four flows of the client.
    let rep = std::fs::read_to_string(dir.join("report.txt")).unwrap();
    let row = rep
        .lines()
        .find(|l| l.contains("127.0.0.1"))
        .unwrap_or_else(|| panic!("the client's row: {rep}"));
    assert!(row.split_whitespace().any(|c| c == "4"), "{row}");
    assert!(!dir.join(".report.txt.tmp").exists());
    drop(open);
    std::fs::remove_dir_all(&dir).ok();
}
