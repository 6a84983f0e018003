//! The readiness report as one self-contained HTML page (`--report-html FILE`): the headline,
//! charts drawn as inline SVG, the table of clients that break or fail (sorted and filtered by
//! a small inline script), and what was analysed.
//!
//! Every value that came from the traffic goes through [`esc`] and lands only in HTML text or
//! double-quoted attributes: none is written inside the script or the style sheet. The page's
//! Content-Security-Policy forbids every load and lets only its own script (by hash) run, so
//! the page neither reaches the network nor runs anything a client put in its hello.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use helloscope_capture::Stats;
use helloscope_tls::TlsVersion;
use sha2::{Digest, Sha256};

use crate::output::rfc3339_micros;
use crate::policy::Verdict;
use crate::report::{GroupView, Report};

/// Client rows in the table at most; past it the worst are kept and the rest counted.
pub const MAX_ROWS: usize = 2000;
/// Hosts and stacks in their charts at most (the most affected first).
const MAX_BARS: usize = 15;
/// Buckets in the timeline at most.
const MAX_BUCKETS: u64 = 400;

/// What was analysed, besides the flows the report holds.
pub struct Analysed<'a> {
    /// Capture files or interfaces read (or, for `helloscope report`, the jsonl files).
    pub sources: &'a [String],
    pub stats: &'a Stats,
    /// The report was built from records read back (`helloscope report`), not from packets:
    /// there are no packet counters to show, only the records.
    pub from_records: bool,
}

/// Where a group stands: the policy's verdict, or, for flows no policy covers, whether the
/// client offers less than TLS 1.2 (the text report's rule for its stack section).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Fine,
    Below,
    Breaks,
    Failing,
}

impl Class {
    fn of(g: &GroupView<'_>) -> Class {
        match g.verdict {
            Some(Verdict::Failing) => Class::Failing,
            Some(Verdict::Breaks) => Class::Breaks,
            Some(Verdict::Ready) => Class::Fine,
            None if !g.offered_max.is_empty()
                && g.offered_max.iter().all(|v| *v < TlsVersion::Tls12) =>
            {
                Class::Below
            }
            None => Class::Fine,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Class::Failing => "failing",
            Class::Breaks => "breaking",
            Class::Below => "below TLS 1.2",
            Class::Fine => "ok",
        }
    }

    fn css(self) -> &'static str {
        match self {
            Class::Failing => "failing",
            Class::Breaks => "breaks",
            Class::Below => "below",
            Class::Fine => "ok",
        }
    }

    fn problem(self) -> bool {
        self >= Class::Below
    }
}

/// Text for HTML text and double-quoted attributes. Besides the five markup characters,
/// control and bidirectional-formatting characters are shown as `\u{..}`, so a name cannot
/// hide or reorder what is around it.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control()
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                let _ = write!(o, "\\u{{{:x}}}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

fn versions(s: &BTreeSet<TlsVersion>) -> String {
    if s.is_empty() {
        return "-".into();
    }
    s.iter()
        .rev()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Seconds, as the text report shows them.
fn time(d: Duration) -> String {
    rfc3339_micros(d).chars().take(19).collect()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A bar chart row: its label and the count in each series.
struct Bar {
    label: String,
    counts: Vec<(Class, usize)>,
}

/// Horizontal stacked bars, each with its counts written out (they read in print and
/// without colour). `chart` names the chart for the test and for screen readers.
fn bar_chart(
    out: &mut String,
    chart: &str,
    title: &str,
    bars: &[Bar],
    word: fn(Class) -> &'static str,
) {
    const LABEL_W: usize = 260;
    const BAR_W: usize = 380;
    const ROW_H: usize = 26;
    let max = bars
        .iter()
        .map(|b| b.counts.iter().map(|c| c.1).sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let h = ROW_H * bars.len() + 8;
    let _ = write!(
        out,
        "<figure class=\"chart\" data-chart=\"{c}\"><figcaption>{t}</figcaption>\
         <svg role=\"img\" aria-label=\"{t}\" width=\"100%\" viewBox=\"0 0 {w} {h}\" \
         preserveAspectRatio=\"xMinYMin meet\">",
        c = esc(chart),
        t = esc(title),
        w = LABEL_W + BAR_W + 260,
    );
    for (i, b) in bars.iter().enumerate() {
        let y = i * ROW_H + 4;
        let label: String = if b.label.chars().count() > 32 {
            b.label.chars().take(31).chain(['…']).collect()
        } else {
            b.label.clone()
        };
        let _ = write!(
            out,
            "<g class=\"row\" data-key=\"{k}\"><title>{k}</title>\
             <text x=\"{x}\" y=\"{ty}\" text-anchor=\"end\" class=\"label\">{l}</text>",
            k = esc(&b.label),
            x = LABEL_W - 8,
            ty = y + 16,
            l = esc(&label),
        );
        let mut x = LABEL_W as f64;
        let mut words = Vec::new();
        for (class, n) in &b.counts {
            let w = *n as f64 * BAR_W as f64 / max as f64;
            let _ = write!(
                out,
                "<g class=\"bar\" data-series=\"{s}\"><rect class=\"{s}\" x=\"{x:.1}\" y=\"{y}\" \
                 width=\"{w:.1}\" height=\"{bh}\"></rect><text class=\"count\" \
                 visibility=\"hidden\">{n}</text></g>",
                s = class.css(),
                bh = ROW_H - 8,
            );
            x += w;
            if *n > 0 {
                words.push(format!("{n} {}", word(*class)));
            }
        }
        let _ = write!(
            out,
            "<text x=\"{x:.1}\" y=\"{ty}\" class=\"total\" dx=\"6\">{}</text></g>",
            esc(&if words.is_empty() {
                "none".into()
            } else {
                words.join(" · ")
            }),
            ty = y + 16,
        );
    }
    out.push_str("</svg></figure>\n");
}

/// The client (address + JA4) of a group.
type ClientKey<'a> = (&'a str, &'a str);

/// Each client's worst class among the groups given.
fn worst<'a>(groups: impl Iterator<Item = &'a GroupView<'a>>) -> BTreeMap<ClientKey<'a>, Class> {
    let mut m: BTreeMap<ClientKey<'a>, Class> = BTreeMap::new();
    for g in groups {
        let c = Class::of(g);
        let e = m.entry((g.client_ip, g.ja4)).or_insert(c);
        *e = (*e).max(c);
    }
    m
}

fn count(m: &BTreeMap<ClientKey<'_>, Class>, order: &[Class]) -> Vec<(Class, usize)> {
    order
        .iter()
        .map(|c| (*c, m.values().filter(|v| *v == c).count()))
        .collect()
}

const ORDER: [Class; 4] = [Class::Failing, Class::Breaks, Class::Below, Class::Fine];

/// The timeline's bucket: an hour for captures up to two days, a day up to 400 days, then
/// as many days as keep it under `MAX_BUCKETS`.
fn bucket_width(span: Duration) -> (u64, &'static str) {
    let s = span.as_secs();
    if s <= 2 * 86_400 {
        (3600, "hour")
    } else if s / 86_400 < MAX_BUCKETS {
        (86_400, "day")
    } else {
        (86_400 * (s / 86_400 / MAX_BUCKETS + 1), "period")
    }
}

/// Breaking and failing clients per hour or day. A client counts in every bucket from the
/// first to the last flow of its group (a fixed client drops out after its last old flow).
fn timeline(out: &mut String, groups: &[GroupView<'_>]) {
    let problems: Vec<&GroupView<'_>> = groups.iter().filter(|g| Class::of(g).problem()).collect();
    let (Some(start), Some(end)) = (
        problems.iter().map(|g| g.first).min(),
        problems.iter().map(|g| g.last).max(),
    ) else {
        out.push_str("<p>No client breaks or fails: no timeline.</p>\n");
        return;
    };
    let (w, unit) = bucket_width(end - start);
    let b0 = start.as_secs() / w;
    let n = (end.as_secs() / w - b0 + 1) as usize;
    let mut per: Vec<BTreeMap<ClientKey<'_>, Class>> = vec![BTreeMap::new(); n];
    for g in &problems {
        let c = Class::of(g);
        for b in (g.first.as_secs() / w - b0)..=(g.last.as_secs() / w - b0) {
            let e = per[b as usize].entry((g.client_ip, g.ja4)).or_insert(c);
            *e = (*e).max(c);
        }
    }
    let series = [Class::Failing, Class::Breaks, Class::Below];
    let max = per.iter().map(|m| m.len()).max().unwrap_or(0).max(1);
    let (plot_w, plot_h, left, top) = (860.0, 180.0, 40.0, 10.0);
    // Few buckets stay narrow bars rather than one slab across the chart.
    let bw = (plot_w / n as f64).min(48.0);
    let _ = write!(
        out,
        "<figure class=\"chart\" data-chart=\"timeline\"><figcaption>Clients that break or \
         fail, per {unit} (UTC; a client counts from its first to its last such flow)</figcaption><svg role=\"img\" aria-label=\"Clients that break \
         or fail, per {unit}\" width=\"100%\" viewBox=\"0 0 920 230\">\
         <line x1=\"{left}\" y1=\"{bot}\" x2=\"{r}\" y2=\"{bot}\" class=\"axis\"></line>\
         <text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\" class=\"label\">{max}</text>\
         <text x=\"{lx}\" y=\"{bot}\" text-anchor=\"end\" class=\"label\">0</text>",
        bot = top + plot_h,
        r = left + plot_w,
        lx = left - 4.0,
        ty = top + 10.0,
    );
    let label_every = (n / 8).max(1);
    for (i, m) in per.iter().enumerate() {
        let t = Duration::from_secs((b0 + i as u64) * w);
        let x = left + i as f64 * bw;
        let label = if w == 3600 {
            format!("{}:00", &time(t)[..13])
        } else {
            time(t)[..10].to_owned()
        };
        let _ = write!(out, "<g class=\"bucket\" data-key=\"{label}\">");
        let mut y = top + plot_h;
        let mut words = Vec::new();
        for c in series {
            let k = m.values().filter(|v| **v == c).count();
            let h = k as f64 * plot_h / max as f64;
            y -= h;
            let _ = write!(
                out,
                "<g class=\"bar\" data-series=\"{s}\"><rect class=\"{s}\" x=\"{x:.1}\" \
                 y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{h:.1}\"></rect><text class=\"count\" \
                 visibility=\"hidden\">{k}</text></g>",
                s = c.css(),
                bw = (bw - 1.0).max(0.5),
            );
            if k > 0 {
                words.push(format!("{k} {}", c.name()));
            }
        }
        let _ = write!(
            out,
            "<title>{label}: {}</title>",
            if words.is_empty() {
                "none".into()
            } else {
                words.join(", ")
            }
        );
        if i % label_every == 0 {
            let _ = write!(
                out,
                "<text x=\"{x:.1}\" y=\"{ly}\" class=\"label\">{label}</text>",
                ly = top + plot_h + 16.0
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg></figure>\n");
}

const STYLE: &str = r#"
:root{--failing:#b2182b;--breaks:#e08214;--below:#8073ac;--ok:#4d9221;--fg:#1a1a1a;--muted:#555}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);max-width:1400px;margin:1.5em auto;padding:0 1em}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
.headline{font-size:1.2em;font-weight:600;margin:.3em 0}
.muted{color:var(--muted)}
.charts{display:grid;grid-template-columns:1fr;gap:1em}
figure.chart{margin:0;break-inside:avoid}figcaption{font-weight:600;margin-bottom:.3em}
svg text{font:13px system-ui,"DejaVu Sans",sans-serif;fill:var(--fg)}
svg .axis{stroke:#777}
rect.failing{fill:var(--failing)}rect.breaks{fill:var(--breaks)}rect.below{fill:var(--below)}rect.ok{fill:var(--ok)}
.legend span{display:inline-block;margin-right:1.2em}.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em}
.legend .failing{background:var(--failing)}.legend .breaks{background:var(--breaks)}.legend .below{background:var(--below)}.legend .ok{background:var(--ok)}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border:1px solid #bbb;padding:.25em .4em;vertical-align:top;text-align:left}
th{background:#eee;cursor:pointer;user-select:none}th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
td.v-failing{border-left:5px solid var(--failing)}td.v-breaks{border-left:5px solid var(--breaks)}td.v-below{border-left:5px solid var(--below)}
.ja4,.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:11px}
.ja4{display:block;color:var(--muted)}
.host{min-width:8em;overflow-wrap:anywhere}td.rem{min-width:12em}
.controls{margin:.5em 0}.controls input{font-size:1em;padding:.2em .4em;width:24em}
dl.stats{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{font-weight:600}dd{margin:0}
@media print{.controls{display:none}th{cursor:auto}body{max-width:none;margin:0}
rect,.legend i,td{print-color-adjust:exact;-webkit-print-color-adjust:exact}tr{break-inside:avoid}}
"#;

/// Sorts the table by a clicked header (numbers and times by their `data-sort`) and hides
/// rows that do not contain the filter text. It reads the table; no data is written into it.
const SCRIPT: &str = r#"
(function(){
var t=document.getElementById('clients');if(!t)return;
var body=t.tBodies[0],heads=t.tHead.rows[0].cells,f=document.getElementById('filter'),shown=document.getElementById('shown');
function key(r,i){var c=r.cells[i];var s=c.getAttribute('data-sort');return s!==null?s:c.textContent.toLowerCase();}
function count(){var n=0;for(var r of body.rows){if(!r.hidden)n++;}shown.textContent=n+' of '+body.rows.length+' rows shown';}
function sort(i,asc){
for(var h of heads)h.removeAttribute('aria-sort');heads[i].setAttribute('aria-sort',asc?'ascending':'descending');
var rows=Array.prototype.slice.call(body.rows),num=heads[i].getAttribute('data-type')==='num';
rows.sort(function(a,b){var x=key(a,i),y=key(b,i);if(num){x=+x;y=+y;}var d=x<y?-1:x>y?1:0;return asc?d:-d;});
for(var r of rows)body.appendChild(r);}
function filter(){var q=f.value.toLowerCase();for(var r of body.rows){r.hidden=q!==''&&r.textContent.toLowerCase().indexOf(q)<0;}count();}
for(let i=0;i<heads.length;i++){heads[i].tabIndex=0;
let go=function(){sort(i,heads[i].getAttribute('aria-sort')!=='ascending');};
heads[i].addEventListener('click',go);heads[i].addEventListener('keydown',function(e){if(e.key==='Enter')go();});}
f.addEventListener('input',filter);
// A link can carry a view: #q=TEXT&sort=COLUMN[&desc].
var p=new URLSearchParams(location.hash.slice(1)),c=+p.get('sort');
if(p.has('q'))f.value=p.get('q');
if(p.has('sort')&&c>=0&&c<heads.length)sort(c,!p.has('desc'));
filter();})();
"#;

fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                o.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

/// The page's rows: the groups that break or fail (or, where no policy covers them, offer
/// less than TLS 1.2), the worst first, at most `MAX_ROWS`; and how many were left out.
fn rows<'a>(groups: &'a [GroupView<'a>]) -> (Vec<&'a GroupView<'a>>, usize) {
    let mut rows: Vec<&GroupView<'_>> = groups.iter().filter(|g| Class::of(g).problem()).collect();
    rows.sort_by(|a, b| {
        (Class::of(b), b.flows, b.last)
            .cmp(&(Class::of(a), a.flows, a.last))
            .then_with(|| (a.client_ip, a.ja4, a.host).cmp(&(b.client_ip, b.ja4, b.host)))
    });
    let more = rows.len().saturating_sub(MAX_ROWS);
    rows.truncate(MAX_ROWS);
    (rows, more)
}

/// The page, from the report and what was analysed.
pub fn render(report: &Report, analysed: &Analysed<'_>) -> String {
    let groups: Vec<GroupView<'_>> = report.groups().collect();
    let mut o = String::with_capacity(64 * 1024 + groups.len() * 600);
    let script_hash = base64(&Sha256::digest(SCRIPT.as_bytes()));
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>TLS cut-over readiness — helloscope</title><style>{STYLE}</style></head><body>\n\
         <h1>TLS cut-over readiness</h1>\n<section id=\"headline\">"
    );
    for h in report.headlines() {
        let _ = writeln!(o, "<p class=\"headline\">{}</p>", esc(&h));
    }
    let stats = analysed.stats;
    let (start, end) = (
        groups.iter().map(|g| g.first).min(),
        groups.iter().map(|g| g.last).max(),
    );
    let _ = writeln!(
        o,
        "<p class=\"muted\">{} TLS flows from {} in {}{}.</p></section>",
        stats.records,
        plural(
            worst(groups.iter()).len(),
            "client (address + JA4)",
            "clients (address + JA4)"
        ),
        plural(analysed.sources.len(), "source", "sources"),
        match (start, end) {
            (Some(s), Some(e)) => format!(", {} to {} UTC", time(s), time(e)),
            _ => String::new(),
        }
    );

    o.push_str(
        "<h2>Charts</h2><p class=\"legend\"><span><i class=\"failing\"></i>failing now</span>\
         <span><i class=\"breaks\"></i>breaks at the cut-over</span><span><i class=\"below\">\
         </i>below TLS 1.2, no policy covers it</span><span><i class=\"ok\"></i>ok</span></p>\
         <div class=\"charts\">\n",
    );
    // Clients by verdict, per policy (with no policy: every host, below TLS 1.2 or not).
    let mut verdict_bars = Vec::new();
    for (profile, _) in report.policies() {
        let m = worst(groups.iter().filter(|g| g.profile == profile));
        verdict_bars.push(Bar {
            label: profile.to_owned(),
            counts: count(&m, &[Class::Failing, Class::Breaks, Class::Fine]),
        });
    }
    if verdict_bars.is_empty() {
        let m = worst(groups.iter());
        verdict_bars.push(Bar {
            label: "all hosts (no policy)".into(),
            counts: count(&m, &[Class::Below, Class::Fine]),
        });
    }
    bar_chart(
        &mut o,
        "verdict",
        "Clients by verdict, per policy",
        &verdict_bars,
        Class::name,
    );

    // By host: the most affected hosts.
    let mut by_host: BTreeMap<&str, Vec<&GroupView<'_>>> = BTreeMap::new();
    for g in &groups {
        by_host.entry(g.host).or_default().push(g);
    }
    let mut host_bars: Vec<Bar> = by_host
        .iter()
        .map(|(h, gs)| Bar {
            label: (*h).to_owned(),
            counts: count(&worst(gs.iter().copied()), &ORDER),
        })
        .collect();
    let problems = |b: &Bar| -> (usize, usize) {
        (
            b.counts.iter().filter(|c| c.0.problem()).map(|c| c.1).sum(),
            b.counts.iter().map(|c| c.1).sum(),
        )
    };
    host_bars.sort_by(|a, b| problems(b).cmp(&problems(a)).then(a.label.cmp(&b.label)));
    let more_hosts = host_bars.len().saturating_sub(MAX_BARS);
    host_bars.truncate(MAX_BARS);
    bar_chart(&mut o, "host", "Clients by host", &host_bars, Class::name);
    if more_hosts > 0 {
        let _ = writeln!(
            o,
            "<p class=\"muted\">{more_hosts} more hosts not shown.</p>"
        );
    }

    // By stack: clients, and those below the minimum, as the text report counts them.
    let mut by_stack: BTreeMap<&str, Vec<&GroupView<'_>>> = BTreeMap::new();
    for g in &groups {
        by_stack.entry(g.stack).or_default().push(g);
    }
    let mut stack_bars: Vec<Bar> = by_stack
        .iter()
        .map(|(s, gs)| {
            let m = worst(gs.iter().copied());
            let bad = m.values().filter(|c| c.problem()).count();
            Bar {
                label: (*s).to_owned(),
                counts: vec![(Class::Breaks, bad), (Class::Fine, m.len() - bad)],
            }
        })
        .collect();
    stack_bars.sort_by(|a, b| problems(b).cmp(&problems(a)).then(a.label.cmp(&b.label)));
    let more_stacks = stack_bars.len().saturating_sub(MAX_BARS);
    stack_bars.truncate(MAX_BARS);
    bar_chart(
        &mut o,
        "stack",
        "Clients by TLS stack (below the minimum, the rest)",
        &stack_bars,
        |c| {
            if c.problem() {
                "below the minimum"
            } else {
                "ok"
            }
        },
    );
    if more_stacks > 0 {
        let _ = writeln!(
            o,
            "<p class=\"muted\">{more_stacks} more stacks not shown.</p>"
        );
    }
    timeline(&mut o, &groups);
    o.push_str("</div>\n");

    // The table.
    let (rows, more) = rows(&groups);
    let _ = writeln!(
        o,
        "<h2>Clients that break or fail</h2>\
         <p class=\"muted\">One row per client (address + JA4) and host; the worst first.{}</p>\
         <div class=\"controls\"><label>Filter: <input id=\"filter\" type=\"search\" \
         placeholder=\"host, address, stack, finding…\"></label> <span id=\"shown\"></span></div>",
        if more > 0 {
            format!(" Only the worst {MAX_ROWS} rows are shown: {more} more rows are not.")
        } else {
            String::new()
        }
    );
    o.push_str(
        "<table id=\"clients\"><thead><tr><th data-type=\"num\">Verdict</th><th>Client</th>\
         <th>Host</th><th>Offers max</th><th>Negotiated</th><th>Stack</th>\
         <th data-type=\"num\">Flows</th><th>First seen</th><th>Last seen</th><th>Findings</th>\
         <th>What to change</th></tr></thead><tbody>\n",
    );
    for g in &rows {
        let c = Class::of(g);
        let verdict = match g.verdict {
            Some(v) => format!("{} ({})", v.as_str(), g.profile),
            None => c.name().to_owned(),
        };
        let _ = writeln!(
            o,
            "<tr class=\"client\"><td class=\"verdict v-{cs}\" data-sort=\"{rank}\">{v}</td>\
             <td><span class=\"ip\">{ip}</span><span class=\"ja4\">{ja4}</span></td>\
             <td class=\"host\">{host}</td><td>{off}</td><td>{neg}</td><td>{stack}</td>\
             <td data-sort=\"{flows}\">{flows}</td><td class=\"mono\">{first}</td>\
             <td class=\"mono\">{last}</td><td>{find}</td><td class=\"rem\">{rem}</td></tr>",
            cs = c.css(),
            rank = c as u8,
            v = esc(&verdict),
            ip = esc(g.client_ip),
            ja4 = esc(g.ja4),
            host = esc(g.host),
            off = esc(&versions(g.offered_max)),
            neg = esc(&versions(g.negotiated)),
            stack = esc(g.stack),
            flows = g.flows,
            first = time(g.first),
            last = time(g.last),
            find = esc(&g
                .findings
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")),
            rem = esc(g.remediation.unwrap_or("")),
        );
    }
    o.push_str("</tbody></table>\n");
    if rows.is_empty() {
        o.push_str("<p>No client breaks or fails.</p>\n");
    }

    // What was analysed.
    o.push_str("<h2>What was analysed</h2><dl class=\"stats\">");
    let _ = write!(o, "<dt>Sources</dt><dd>");
    for (i, s) in analysed.sources.iter().enumerate() {
        let _ = write!(
            o,
            "{}<span class=\"mono\">{}</span>",
            if i > 0 { "<br>" } else { "" },
            esc(s)
        );
    }
    o.push_str("</dd>");
    let mut dd = |k: &str, v: String| {
        let _ = write!(o, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
    };
    if let (Some(s), Some(e)) = (start, end) {
        dd(
            "Time range (TLS flows)",
            format!("{} to {} UTC", time(s), time(e)),
        );
    }
    if analysed.from_records {
        dd("Records read", stats.records.to_string());
    } else {
        dd(
            "Packets",
            format!("{} ({} bytes)", stats.packets, stats.bytes),
        );
        dd("TLS flows reported", stats.records.to_string());
    }
    dd("Non-TLS flows ignored", stats.flows_not_tls.to_string());
    dd(
        "Skipped packets",
        if stats.skipped.is_empty() {
            "none".into()
        } else {
            stats
                .skipped
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    for (n, what) in [
        (stats.evicted_table_full, "Flows evicted from a full table"),
        (stats.evicted_idle, "Idle flows timed out"),
        (stats.flows_without_payload, "Connections without data"),
        (stats.flows_buffer_limit, "Flows over the buffer limit"),
        (
            stats.flows_overlap_conflict,
            "Flows with conflicting overlapping segments",
        ),
        (stats.flows_malformed, "Flows that stopped parsing as TLS"),
        (
            stats.buffers_shed,
            "Flow buffers dropped to stay under the memory limit",
        ),
        (stats.ip_fragments_dropped, "IP fragments dropped"),
        (
            stats.ip_datagrams_incomplete,
            "IP datagrams left incomplete",
        ),
        (stats.tunnelled_segments, "TCP segments from tunnels"),
    ] {
        if n > 0 {
            dd(what, n.to_string());
        }
    }
    if !stats.memory_shed.is_empty() {
        dd(
            "Shed to stay under --max-memory-mib",
            stats
                .memory_shed
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    let _ = write!(
        o,
        "</dl>\n<p class=\"muted\">Made by helloscope {}. A client counts once per address and \
         JA4 fingerprint; the timeline counts it in every hour or day from the first to the last \
         of its flows.</p>\n<script>{SCRIPT}</script>\n</body></html>\n",
        env!("CARGO_PKG_VERSION"),
    );
    o
}

/// Writes the page to `path`, replacing any earlier one at once (a reader never sees half a
/// page): written beside it, then renamed over it.
pub fn write_file(path: &Path, report: &Report, analysed: &Analysed<'_>) -> io::Result<()> {
    let page = render(report, analysed);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(page.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_controls_and_bidi() {
        assert_eq!(
            esc("<script>\"a\"&'b'</style>"),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/style&gt;"
        );
        assert_eq!(esc("a\u{0}b\u{202e}c\u{7f}"), "a\\u{0}b\\u{202e}c\\u{7f}");
        assert_eq!(
            esc("caf\u{e9}.example\u{fffd}"),
            "caf\u{e9}.example\u{fffd}"
        );
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        // RFC 4648 section 10.
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn buckets() {
        assert_eq!(bucket_width(Duration::from_secs(3600)).1, "hour");
        assert_eq!(bucket_width(Duration::from_secs(3 * 86_400)).1, "day");
        let (w, _) = bucket_width(Duration::from_secs(5000 * 86_400));
        assert!(5000 * 86_400 / w < MAX_BUCKETS);
    }
}
