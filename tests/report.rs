//! `helloscope report` on records of the bundled captures: the report `analyze --report` gives,
//! whatever the order and the number of files; sensors kept apart.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use std::io::Write;

fn helloscope(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_helloscope"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run helloscope");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

const CAPTURES: &[&str] = &[
    "captures/curl.pcapng",
    "captures/ipv6.pcap",
    "captures/libraries.pcap",
    "captures/openssl.pcap",
];

/// `analyze --policy procore --report` with sensor `sensor`: the records, the report, the
/// exit status.
fn analyze(sensor: &str) -> (String, String, Option<i32>) {
    let mut args = vec![
        "analyze", "--policy", "procore", "--report", "--format", "jsonl", "--sensor", sensor,
    ];
    args.extend_from_slice(CAPTURES);
    let o = helloscope(&args, None);
    let report: String = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| !l.starts_with("helloscope:"))
        .map(|l| format!("{l}\n"))
        .collect();
    (
        String::from_utf8(o.stdout).unwrap(),
        report,
        o.status.code(),
    )
}

fn temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("helloscope-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn report_of_records_is_the_report_of_the_analysis() {
    let (records, expected, status) = analyze("gw1");
    assert_eq!(status, Some(1), "procore clients break");
    assert!(expected.contains("will break"), "{expected}");
    // Out of order, in two files and standard input.
    let mut lines: Vec<&str> = records.lines().collect();
    assert!(lines.len() >= 29);
    lines.reverse();
    let third = lines.len() / 3;
    let a = temp("a.jsonl", &(lines[..third].join("\n") + "\n"));
    let b = temp("b.jsonl", &(lines[third..2 * third].join("\n") + "\n"));
    let rest = lines[2 * third..].join("\n");
    let o = helloscope(
        &["report", a.to_str().unwrap(), "-", b.to_str().unwrap()],
        Some(rest.as_bytes()),
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), expected);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{} records read", lines.len())),
        "{err}"
    );
}

#[test]
fn two_sensors_stay_apart() {
    let (gw1, one, _) = analyze("gw1");
    let (gw2, _, _) = analyze("gw2");
    let headline = |report: &str| -> usize {
        let first = report.lines().next().unwrap();
        first
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{first}"))
    };
    let o = helloscope(&["report", "-"], Some(format!("{gw1}{gw2}").as_bytes()));
    let both = String::from_utf8_lossy(&o.stdout).into_owned();
    // The same addresses at two gateways are two sets of clients.
    assert_eq!(headline(&both), 2 * headline(&one), "{both}");
    let header = both.lines().find(|l| l.starts_with("VERDICT")).unwrap();
    assert!(header.contains("SENSOR"), "{header}");
    assert!(both.contains(" gw1 ") && both.contains(" gw2 "), "{both}");
    assert!(!one.contains("SENSOR"), "one sensor: the table of analyze");
}

#[test]
fn lines_that_are_not_records_are_counted_and_exit_2() {
    let (records, expected, _) = analyze("gw1");
    let input = format!("{{\"ts\":\"yesterday\"}}\n{records}\u{0}garbage\n");
    let o = helloscope(&["report", "-"], Some(input.as_bytes()));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        expected,
        "the rest kept"
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("2 lines that are not records skipped (first: -:1: not a helloscope record"),
        "{err}"
    );
    let o = helloscope(&["report", "/nonexistent/flows.jsonl"], None);
    assert_eq!(o.status.code(), Some(2));
}

/// `report --report-html`: the page built from records read back carries the text report's
/// headline word for word, every breaking client's address, and says it read records (no
/// packet counters it does not have).
#[test]
fn report_of_records_writes_the_page() {
    let (records, expected, _) = analyze("gw1");
    let input = temp("page.jsonl", &records);
    let page = input.with_extension("html");
    let o = helloscope(
        &[
            "report",
            "--report-html",
            page.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), expected);
    let html = std::fs::read_to_string(&page).unwrap();
    let headline = expected.lines().next().unwrap();
    assert!(headline.contains("will break"), "{headline}");
    assert!(html.contains(headline), "{headline} in the page");
    let n = records.lines().count();
    assert!(
        html.contains(&format!("<dt>Records read</dt><dd>{n}</dd>")),
        "records, not packets"
    );
    assert!(!html.contains("<dt>Packets</dt>"));
}
