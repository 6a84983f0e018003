//! `--report-html`: the page made from the bundled captures says what the text report says
//! (headline, chart counts, the rows that break or fail), in the page as written and, when
//! Debian's `chromium` is installed, in the DOM a real browser renders from it; and hostile
//! server names written into a capture come out of the whole pipeline as text, never markup.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../benches/gen/mod.rs"]
mod gen;

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("helloscope-html-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `analyze` with the text report on standard error and the page to `page`.
fn analyze(args: &[&str], page: &Path) -> (String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_helloscope"))
        .args(["analyze", "--format", "jsonl", "--report", "--report-html"])
        .arg(page)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{stderr}");
    let html = String::from_utf8(std::fs::read(page).unwrap()).expect("the page is UTF-8");
    (stderr, html)
}

/// The DOM Chromium renders from the page (scripts run), or None when it is not installed.
fn browser_dom(page: &Path) -> Option<String> {
    browser_dom_at(page, "")
}

/// The same, for the page with a fragment (`#q=...`) on its address.
fn browser_dom_at(page: &Path, fragment: &str) -> Option<String> {
    let bin = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok())?;
    let profile = dir().join(format!(
        "profile-{}",
        page.file_stem().unwrap().to_string_lossy()
    ));
    let o = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}{fragment}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        dom.contains("</html>"),
        "chromium rendered nothing: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(dom)
}

fn skip_without_browser() {
    eprintln!(
        "SKIPPED (browser part): chromium is not installed (`apt-get install chromium`); \
         only the page as written was checked"
    );
}

/// Text of markup: tags dropped, the entities an HTML serializer writes decoded.
fn text(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The value of attribute `name` in the first tag of `s`.
fn attr(s: &str, name: &str) -> String {
    let tag = &s[..s.find('>').unwrap()];
    let v = tag.split(&format!("{name}=\"")).nth(1).unwrap();
    text(&v[..v.find('"').unwrap()])
}

/// The parts of `s` that start with `open`, each up to the next one.
fn pieces<'a>(s: &'a str, open: &str) -> Vec<&'a str> {
    s.split(open).skip(1).collect()
}

/// A chart's counts: (row key, series, count).
fn chart(dom: &str, name: &str) -> BTreeSet<(String, String, u64)> {
    chart_of(dom, name, "row")
}

/// The counts of a chart whose rows (or buckets) are `<g class="{row}">`.
fn chart_of(dom: &str, name: &str, row: &str) -> BTreeSet<(String, String, u64)> {
    let fig = dom
        .split(&format!("data-chart=\"{name}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no chart {name}"));
    let fig = &fig[..fig.find("</figure>").unwrap()];
    let mut out = BTreeSet::new();
    for row in pieces(fig, &format!("<g class=\"{row}\"")) {
        let key = attr(row, "data-key");
        for bar in pieces(row, "<g class=\"bar\"") {
            let series = attr(bar, "data-series");
            let n = text(&bar[bar.find('>').unwrap() + 1..bar.find("</g>").unwrap()]);
            out.insert((key.clone(), series, n.trim().parse().unwrap()));
        }
    }
    out
}

/// The table's rows, each as its cells' text (the client cell as address and JA4).
fn table_rows(dom: &str) -> Vec<Vec<String>> {
    table_rows_shown(dom, false)
}

/// The same, only the rows not hidden when `shown_only`.
fn table_rows_shown(dom: &str, shown_only: bool) -> Vec<Vec<String>> {
    let body = dom.split("<tbody>").nth(1).unwrap();
    let body = &body[..body.find("</tbody>").unwrap()];
    pieces(body, "<tr")
        .into_iter()
        .filter(|r| !shown_only || !r[..r.find('>').unwrap()].contains("hidden"))
        .map(|r| {
            let r = &r[..r.find("</tr>").unwrap()];
            let mut cells: Vec<String> = Vec::new();
            for c in pieces(r, "<td") {
                let c = &c[c.find('>').unwrap() + 1..];
                if c.contains("class=\"ja4\"") {
                    let (ip, ja4) = c.split_once("<span class=\"ja4\"").unwrap();
                    cells.push(text(ip));
                    cells.push(text(&ja4[ja4.find('>').unwrap() + 1..]));
                } else {
                    cells.push(text(c));
                }
            }
            cells
        })
        .collect()
}

/// The text report: its headline lines, the rows of its table (by column, cut at the
/// header's column starts), and its per-stack lines.
struct TextReport {
    headlines: Vec<String>,
    rows: Vec<Vec<String>>,
    stacks: Vec<(String, u64, u64)>,
}

fn text_report(stderr: &str) -> TextReport {
    let lines: Vec<&str> = stderr.lines().collect();
    let headlines: Vec<String> = lines
        .iter()
        .take_while(|l| !l.is_empty())
        .map(|l| l.to_string())
        .collect();
    let h = lines.iter().position(|l| l.starts_with("VERDICT")).unwrap();
    let header = lines[h];
    let starts: Vec<usize> = header
        .char_indices()
        .filter(|(i, c)| *c != ' ' && (*i == 0 || header[..*i].ends_with("  ")))
        .map(|(i, _)| i)
        .collect();
    let mut rows = Vec::new();
    for l in lines[h + 1..].iter().take_while(|l| !l.is_empty()) {
        let cells: Vec<String> = starts
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let e = starts.get(i + 1).copied().unwrap_or(l.len()).min(l.len());
                l.get(*s.min(&l.len())..e).unwrap_or("").trim().to_owned()
            })
            .collect();
        rows.push(cells);
    }
    let mut stacks = Vec::new();
    for l in lines.iter().skip_while(|l| **l != "By TLS stack:").skip(1) {
        let Some(l) = l.strip_prefix("  ") else { break };
        if l.starts_with(' ') {
            continue;
        }
        let (name, rest) = l.rsplit_once(": ").unwrap();
        let n: Vec<u64> = rest
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        stacks.push((name.to_owned(), n[0], n[1]));
    }
    TextReport {
        headlines,
        rows,
        stacks,
    }
}

/// `procore: 12 clients will break when ... (5 already failing)` → (procore, 12, 5).
fn headline_counts(h: &str) -> (String, u64, u64) {
    let (profile, rest) = h.split_once(": ").unwrap();
    let n = rest.split(' ').next().unwrap().parse().unwrap();
    let f = rest
        .rsplit_once('(')
        .unwrap()
        .1
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (profile.to_owned(), n, f)
}

/// Checks the page (as written, or as rendered) against the text report.
fn check_against_text(dom: &str, t: &TextReport, what: &str) {
    let headlines: Vec<String> = pieces(dom, "<p class=\"headline\">")
        .iter()
        .map(|p| text(&p[..p.find("</p>").unwrap()]))
        .collect();
    assert_eq!(headlines, t.headlines, "{what}: headline");

    let verdicts = chart(dom, "verdict");
    for h in &t.headlines {
        let (profile, n, f) = headline_counts(h);
        assert!(
            verdicts.contains(&(profile.clone(), "failing".into(), f)),
            "{what}: {profile} failing {f} in {verdicts:?}"
        );
        assert!(
            verdicts.contains(&(profile.clone(), "breaks".into(), n - f)),
            "{what}: {profile} breaks {} in {verdicts:?}",
            n - f
        );
    }

    let stacks = chart(dom, "stack");
    assert_eq!(
        stacks.len(),
        2 * t.stacks.len(),
        "{what}: a bar per stack: {stacks:?}"
    );
    for (name, clients, below) in &t.stacks {
        assert!(
            stacks.contains(&(name.clone(), "breaks".into(), *below)),
            "{what}: {name} {below} below the minimum in {stacks:?}"
        );
        assert!(
            stacks.contains(&(name.clone(), "ok".into(), clients - below)),
            "{what}: {name} {clients} clients in {stacks:?}"
        );
    }

    // By host: each client (address + JA4) at its worst verdict for that host.
    let mut per_host: std::collections::BTreeMap<(String, String, String), &str> =
        Default::default();
    for r in &t.rows {
        let class = if r[0].starts_with("failing") {
            "failing"
        } else if r[0].starts_with("breaks") {
            "breaks"
        } else {
            "ok"
        };
        let e = per_host
            .entry((r[4].clone(), r[1].clone(), r[2].clone()))
            .or_insert(class);
        if class == "failing" || (class == "breaks" && *e == "ok") {
            *e = class;
        }
    }
    let hosts: BTreeSet<&String> = per_host.keys().map(|k| &k.0).collect();
    let host_chart = chart(dom, "host");
    for h in hosts {
        for class in ["failing", "breaks", "ok"] {
            let n = per_host
                .iter()
                .filter(|(k, v)| &k.0 == h && **v == class)
                .count() as u64;
            assert!(
                host_chart.contains(&(h.clone(), class.into(), n)),
                "{what}: {h} {class} {n} in {host_chart:?}"
            );
        }
    }

    // Timeline: per day (or hour), the clients whose rows that break or fail span it.
    let timeline = chart_of(dom, "timeline", "bucket");
    assert!(!timeline.is_empty(), "{what}: timeline");
    for (key, series, n) in &timeline {
        let k = key.trim_end_matches(":00");
        let want = if series == "below" {
            0
        } else {
            let mut clients: std::collections::BTreeMap<(&str, &str), &str> = Default::default();
            for r in t
                .rows
                .iter()
                .filter(|r| r[0].starts_with("breaks") || r[0].starts_with("failing"))
                .filter(|r| &r[8][..k.len()] <= k && k <= &r[9][..k.len()])
            {
                let v = if r[0].starts_with("failing") {
                    "failing"
                } else {
                    "breaks"
                };
                let e = clients.entry((&r[1], &r[2])).or_insert(v);
                if v == "failing" {
                    *e = v;
                }
            }
            clients.values().filter(|v| **v == series).count() as u64
        };
        assert_eq!(*n, want, "{what}: timeline {key} {series}");
    }

    // The text report's rows that break or fail, in the text report's columns: VERDICT CLIENT
    // JA4 STACK HOST FLOWS OFFERS NEGOTIATED FIRST LAST FINDINGS.
    let want: BTreeSet<Vec<String>> = t
        .rows
        .iter()
        .filter(|r| r[0].starts_with("breaks") || r[0].starts_with("failing"))
        .cloned()
        .collect();
    assert!(!want.is_empty());
    // Page columns: verdict, address, JA4, host, offers, negotiated, stack, flows, first,
    // last, findings, what to change.
    let got: BTreeSet<Vec<String>> = table_rows(dom)
        .into_iter()
        .map(|c| {
            vec![
                c[0].clone(),
                c[1].clone(),
                c[2].clone(),
                c[6].clone(),
                c[3].clone(),
                c[7].clone(),
                c[4].clone(),
                c[5].clone(),
                c[8].clone(),
                c[9].clone(),
                c[10].replace(", ", ","),
            ]
        })
        .collect();
    assert_eq!(got, want, "{what}: table rows");
}

#[test]
fn bundled_captures_page_equals_text_report() {
    let page = dir().join("bundled.html");
    let (stderr, html) = analyze(
        &[
            "--policy",
            "procore",
            "captures/openssl.pcap",
            "captures/curl.pcapng",
            "captures/libraries.pcap",
            "captures/ipv6.pcap",
            "captures/stacks/clients.pcap",
        ],
        &page,
    );
    let t = text_report(&stderr);
    assert_eq!(t.headlines.len(), 1, "{stderr}");
    check_against_text(&html, &t, "page");
    // Self-contained: nothing is loaded from anywhere.
    for external in ["src=", "href=", "url(", "@import", "http://", "https://"] {
        assert!(!html.contains(external), "page refers to {external}");
    }
    assert!(html.contains("default-src 'none'"));
    // What was analysed.
    assert!(html.contains("captures/stacks/clients.pcap"));
    let packets = stderr.split(" packets").next().unwrap();
    let packets = packets.rsplit(' ').next().unwrap();
    assert!(
        html.contains(&format!("<dt>Packets</dt><dd>{packets} (")),
        "{packets}"
    );

    let Some(dom) = browser_dom(&page) else {
        return skip_without_browser();
    };
    check_against_text(&dom, &t, "browser DOM");
    // The page's script ran (the CSP's hash admits it): it counts the rows it shows.
    let all = table_rows(&dom).len();
    let shown = format!("{all} of {all} rows shown");
    assert!(dom.contains(&shown), "script did not run: no {shown:?}");

    // The script's filter and sort, driven by the address: login.procore.com's rows only,
    // by flows (column 6), most first.
    let dom = browser_dom_at(&page, "#q=login.procore&sort=6&desc").unwrap();
    let rows = table_rows_shown(&dom, true);
    let want = t
        .rows
        .iter()
        .filter(|r| r[4] == "login.procore.com" && !r[0].starts_with("ready"))
        .count();
    assert!(want > 0);
    assert_eq!(rows.len(), want, "filtered rows");
    assert!(rows.iter().all(|r| r[3] == "login.procore.com"));
    assert!(dom.contains(&format!("{want} of {all} rows shown")));
    let flows: Vec<u64> = rows.iter().map(|r| r[7].parse().unwrap()).collect();
    assert!(
        flows.windows(2).all(|w| w[0] >= w[1]) && flows[0] > *flows.last().unwrap(),
        "sorted by flows, most first: {flows:?}"
    );
    assert!(dom.contains("aria-sort=\"descending\""));
}

/// A real ClientHello (curl 7.88.1) rewritten to offer TLS 1.0 only (legacy_version 0x0301,
/// no supported_versions) and to name `sni`, in a TLS record.
fn hello_for(sni: &[u8]) -> Vec<u8> {
    let rec = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/helloscope-tls/testdata/curl-7.88.1-clienthello.bin"
    ))
    .unwrap();
    let body = &rec[9..]; // record header (5), handshake header (4)
    let mut p = 2 + 32;
    p += 1 + body[p] as usize; // session id
    p += 2 + u16::from_be_bytes([body[p], body[p + 1]]) as usize; // cipher suites
    p += 1 + body[p] as usize; // compression methods
    let ext_end = p + 2 + u16::from_be_bytes([body[p], body[p + 1]]) as usize;
    let mut exts = Vec::new();
    let mut q = p + 2;
    while q < ext_end {
        let ty = u16::from_be_bytes([body[q], body[q + 1]]);
        let len = u16::from_be_bytes([body[q + 2], body[q + 3]]) as usize;
        match ty {
            0 => {
                let mut d = Vec::new();
                d.extend_from_slice(&((sni.len() + 3) as u16).to_be_bytes());
                d.push(0);
                d.extend_from_slice(&(sni.len() as u16).to_be_bytes());
                d.extend_from_slice(sni);
                exts.extend_from_slice(&[0, 0]);
                exts.extend_from_slice(&(d.len() as u16).to_be_bytes());
                exts.extend_from_slice(&d);
            }
            43 => {}
            _ => exts.extend_from_slice(&body[q..q + 4 + len]),
        }
        q += 4 + len;
    }
    let mut hello = vec![3, 1];
    hello.extend_from_slice(&body[2..p]);
    hello.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    hello.extend_from_slice(&exts);
    let mut hs = vec![1];
    hs.extend_from_slice(&(hello.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&hello);
    let mut out = vec![22, 3, 1];
    out.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    out.extend_from_slice(&hs);
    out
}

const HOSTILE: [&[u8]; 8] = [
    b"<script>alert(1)</script>.example",
    b"\"><img src=x onerror=alert(2)>.example",
    b"'single'quoted.example",
    b"</style><b>bold</b>.example",
    b"</script><script>alert(3)</script>.example",
    b"a&amp;b.example",
    b"bad\xff\xfeutf8.example",
    b"\xe2\x80\xaeelpmaxe.evil",
];

/// A capture of one flow per (client address, client port, server name): SYN, SYN-ACK, and
/// the ClientHello.
fn capture(name: &str, flows: impl Iterator<Item = ([u8; 4], u16, Vec<u8>)>) -> PathBuf {
    let path = dir().join(name);
    let mut w = gen::PcapWriter::new(std::io::BufWriter::new(
        std::fs::File::create(&path).unwrap(),
    ));
    for (ip, port, sni) in flows {
        let c = (ip, port);
        let s = ([192, 0, 2, 1], 443);
        w.tcp(c, s, 1000, 0, 0x02, &[]);
        w.tcp(s, c, 5000, 1001, 0x12, &[]);
        w.tcp(c, s, 1001, 5001, 0x18, &hello_for(&sni));
    }
    w.w.flush().unwrap();
    path
}

const POLICY: [&str; 4] = ["--min-version", "1.2", "--host-ip", "192.0.2.0/24"];

/// The page grows with distinct clients, not flows; past `MAX_ROWS` (2000) client rows the
/// table keeps 2000 and says how many more there are.
#[test]
fn bounded_by_clients() {
    let one_client = |flows: u16| {
        let path = capture(
            &format!("one-{flows}.pcap"),
            (0..flows).map(|i| ([10, 1, 0, 1], 20000 + i, b"api.example.com".to_vec())),
        );
        let page = dir().join(format!("one-{flows}.html"));
        let mut args = POLICY.to_vec();
        args.push(path.to_str().unwrap());
        analyze(&args, &page).1
    };
    let (few, many) = (one_client(10), one_client(5000));
    assert_eq!(table_rows(&many).len(), 1);
    assert!(
        few.len().abs_diff(many.len()) < 200,
        "10 flows: {} bytes, 5000 flows: {} bytes",
        few.len(),
        many.len()
    );

    let path = capture(
        "clients.pcap",
        (0..2100u32).map(|i| {
            let [_, _, a, b] = i.to_be_bytes();
            ([10, 2, a, b], 30000, b"api.example.com".to_vec())
        }),
    );
    let page = dir().join("clients.html");
    let mut args = POLICY.to_vec();
    args.push(path.to_str().unwrap());
    let (stderr, html) = analyze(&args, &page);
    assert!(stderr.contains("2100 clients will break"), "{stderr}");
    assert_eq!(table_rows(&html).len(), 2000);
    assert!(html.contains("100 more rows are not"), "the page says so");
}

#[test]
fn hostile_server_names_are_text() {
    let path = capture(
        "hostile.pcap",
        HOSTILE
            .iter()
            .enumerate()
            .map(|(i, sni)| ([10, 0, 0, 1 + i as u8], 40000 + i as u16, sni.to_vec())),
    );
    let page = dir().join("hostile.html");
    let mut args = POLICY.to_vec();
    args.push(path.to_str().unwrap());
    let (stderr, html) = analyze(&args, &page);
    assert!(stderr.contains("8 clients will break"), "{stderr}");

    // As written: one script and one style element, the page's own; no markup from a name.
    assert_eq!(html.matches("<script").count(), 1);
    assert_eq!(html.matches("</script").count(), 1);
    assert_eq!(html.matches("<style").count(), 1);
    assert_eq!(html.matches("</style").count(), 1);
    for bad in ["<img", "<b>", "\u{202e}"] {
        assert!(!html.contains(bad), "{bad} in the page");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;.example"));
    assert!(html.contains("a&amp;amp;b.example"));
    assert!(html.contains("bad\u{fffd}\u{fffd}utf8.example"));
    assert!(html.contains("\\u{202e}elpmaxe.evil"));

    // Each name, read back as text, is what the client sent (lossily decoded, the bidi
    // override shown as an escape), in the page and in the browser's DOM.
    let want: BTreeSet<String> = HOSTILE
        .iter()
        .map(|s| String::from_utf8_lossy(s).replace('\u{202e}', "\\u{202e}"))
        .collect();
    let hosts = |dom: &str| -> BTreeSet<String> {
        table_rows(dom).into_iter().map(|r| r[3].clone()).collect()
    };
    assert_eq!(hosts(&html), want);
    let Some(dom) = browser_dom(&page) else {
        return skip_without_browser();
    };
    assert_eq!(hosts(&dom), want, "the browser reads the names as text");
    assert_eq!(dom.matches("<script").count(), 1, "no script from a name");
    assert!(!dom.contains("<img") && !dom.contains("<b>"));
    assert!(dom.contains("8 of 8 rows shown"), "the page's script ran");
}

/// With no policy the page judges every host as the text report does: clients offering less
/// than TLS 1.2.
#[test]
fn no_policy_page_equals_text_report() {
    let page = dir().join("nopolicy.html");
    let (stderr, html) = analyze(&["captures/openssl.pcap", "captures/libraries.pcap"], &page);
    let t = text_report(&stderr);
    let n: u64 = t.headlines[0].split(' ').next().unwrap().parse().unwrap();
    assert!(n > 0, "{stderr}");
    let below = |r: &Vec<String>| r[6].split(", ").all(|v| v < "TLS 1.2" && v != "-");
    let want: BTreeSet<(String, String, String)> = t
        .rows
        .iter()
        .filter(|r| below(r))
        .map(|r| (r[1].clone(), r[2].clone(), r[4].clone()))
        .collect();
    assert!(!want.is_empty());
    let check = |dom: &str, what: &str| {
        let verdicts = chart(dom, "verdict");
        assert!(
            verdicts.contains(&("all hosts (no policy)".into(), "below".into(), n)),
            "{what}: {verdicts:?}"
        );
        let got: BTreeSet<(String, String, String)> = table_rows(dom)
            .into_iter()
            .map(|r| {
                assert_eq!(r[0], "below TLS 1.2");
                (r[1].clone(), r[2].clone(), r[3].clone())
            })
            .collect();
        assert_eq!(got, want, "{what}: rows");
    };
    check(&html, "page");
    match browser_dom(&page) {
        Some(dom) => check(&dom, "browser DOM"),
        None => skip_without_browser(),
    }
}
