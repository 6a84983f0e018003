//! `helloscope probe`: which TLS versions a server accepts, asked one version at a time with
//! hellos built here and answers read with `helloscope-tls`.
//!
//! Per host: one connection per version (SSL 3.0 to TLS 1.3), then one with TLS_FALLBACK_SCSV
//! (RFC 7507) just below the highest version accepted. Each connection has a deadline for
//! connecting and another for the whole reply, and reads at most [`reply::MAX_REPLY_BYTES`].

pub mod hello;
mod output;
pub mod reply;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, IsTerminal, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use helloscope_tls::{AlertDescription, DowngradeSentinel, TlsVersion};

use crate::common::Failure;
use crate::output::Format;
use crate::policy::{self, Policy};
use hello::{HelloSpec, PROBED};
use reply::{Reply, ReplyReader, ServerHelloSummary, MAX_REPLY_BYTES};

pub const EXAMPLES_PROBE: &str = "Examples:
  helloscope probe api.procore.com
  helloscope probe --policy procore --format jsonl hooks.example.com:8443
  helloscope probe --sni api.example.com 10.0.0.5:443";

#[derive(Args)]
pub struct ProbeArgs {
    /// Servers to probe: HOST, HOST:PORT, [IPV6]:PORT (port 443 when not given).
    #[arg(required = true, value_name = "HOST[:PORT]")]
    pub targets: Vec<String>,
    /// server_name to send [default: HOST when it is a name, none for an address].
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,
    /// Seconds allowed to connect, and again to read the reply, on each connection.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub timeout: f64,
    /// Output format [default: table on a terminal, jsonl otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// A built-in policy: procore, onepagecrm (repeatable). Ready when the server accepts the
    /// policy's minimum version or higher; versions below the minimum that it still accepts
    /// are flagged.
    #[arg(long = "policy", value_name = "NAME")]
    pub policies: Vec<String>,
    /// Minimum version (e.g. 1.2) of an ad-hoc policy, profile `custom`.
    #[arg(long, value_name = "VERSION")]
    pub min_version: Option<String>,
    /// Skip the TLS_FALLBACK_SCSV probe (five connections per host instead of six).
    #[arg(long)]
    pub no_fallback_probe: bool,
}

/// How one probe ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A ServerHello choosing the version offered.
    Accepted(ServerHelloSummary),
    /// A HelloRetryRequest for the version offered: the server goes on with it once the
    /// client sends the key share asked for.
    HelloRetryRequest(ServerHelloSummary),
    /// A ServerHello choosing some other version than the one offered (a broken server).
    OtherVersion(ServerHelloSummary),
    /// An alert instead of a ServerHello.
    Alert(helloscope_tls::Alert),
    /// The connection was reset.
    Reset,
    /// The server closed the connection without answering.
    Closed,
    /// No (complete) answer before the deadline.
    Timeout,
    /// The answer was not TLS, or not a ServerHello or alert.
    Malformed(&'static str),
    /// More than [`MAX_REPLY_BYTES`] without a complete answer.
    TooLong,
    /// No connection: refused, unreachable or timed out.
    ConnectFailed,
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Accepted(_) => "accepted",
            Outcome::HelloRetryRequest(_) => "hello_retry_request",
            Outcome::OtherVersion(_) => "other_version",
            Outcome::Alert(_) => "alert",
            Outcome::Reset => "reset",
            Outcome::Closed => "closed",
            Outcome::Timeout => "timeout",
            Outcome::Malformed(_) => "malformed",
            Outcome::TooLong => "too_long",
            Outcome::ConnectFailed => "connect_failed",
        }
    }

    pub fn server_hello(&self) -> Option<&ServerHelloSummary> {
        match self {
            Outcome::Accepted(s) | Outcome::HelloRetryRequest(s) | Outcome::OtherVersion(s) => {
                Some(s)
            }
            _ => None,
        }
    }

    pub fn accepted(&self) -> bool {
        matches!(self, Outcome::Accepted(_) | Outcome::HelloRetryRequest(_))
    }
}

/// One version probed and its outcome.
#[derive(Clone, Debug)]
pub struct VersionResult {
    pub offered: TlsVersion,
    pub outcome: Outcome,
}

/// Whether the server refuses a fallback it does not need (RFC 7507 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// It answered inappropriate_fallback to a hello at `offered` with the SCSV.
    Honoured { offered: TlsVersion },
    /// It went on at `offered` despite the SCSV: a downgrade attack would succeed.
    Ignored { offered: TlsVersion },
    /// Some other answer (another alert, a reset …): nothing can be concluded.
    Inconclusive {
        offered: TlsVersion,
        outcome: Outcome,
    },
    /// Not tested: no version lower than the highest accepted to fall back to, nothing
    /// accepted at all, or --no-fallback-probe.
    NotTested,
}

/// Whether ServerHellos at forced lower versions carry RFC 8446's downgrade sentinel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sentinel {
    /// Every ServerHello below TLS 1.3 carries the right sentinel.
    Present,
    /// A TLS 1.3 server negotiated less without the right sentinel.
    Missing,
    /// The server does not accept TLS 1.3 and a lower version both.
    NotApplicable,
}

/// The policy's judgement of a server.
#[derive(Clone, Debug)]
pub struct ServerEvaluation {
    pub profile: String,
    /// ready (accepts the minimum or higher), breaks (does not), unreachable.
    pub verdict: &'static str,
    /// Legacy versions the server still accepts, each a finding.
    pub findings: Vec<String>,
}

/// Everything learnt about one host.
#[derive(Clone, Debug)]
pub struct HostReport {
    pub host: String,
    pub port: u16,
    pub address: Option<SocketAddr>,
    pub sni: Option<String>,
    pub error: Option<String>,
    pub results: Vec<VersionResult>,
    pub fallback: Fallback,
    pub sentinel: Sentinel,
    pub evaluations: Vec<ServerEvaluation>,
}

impl HostReport {
    pub fn accepted(&self) -> Vec<TlsVersion> {
        self.results
            .iter()
            .filter(|r| r.outcome.accepted())
            .map(|r| r.offered)
            .collect()
    }

    /// Nothing answered at all: every connection failed.
    pub fn unreachable(&self) -> bool {
        self.error.is_some()
            || self
                .results
                .iter()
                .all(|r| r.outcome == Outcome::ConnectFailed)
    }
}

pub fn run(a: &ProbeArgs) -> Result<ExitCode, Failure> {
    if !(a.timeout > 0.0 && a.timeout <= 3600.0) {
        return Err(Failure(format!(
            "--timeout {}: give seconds between 0 and 3600",
            a.timeout
        )));
    }
    let timeout = Duration::from_secs_f64(a.timeout);
    let policies = build_policies(a)?;
    let targets = a
        .targets
        .iter()
        .map(|t| parse_target(t))
        .collect::<Result<Vec<_>, _>>()?;
    let format = a.format.unwrap_or(if io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Jsonl
    });
    let mut out = io::BufWriter::new(io::stdout().lock());
    output::header(&mut out, format)?;
    let (mut unreachable, mut problems) = (false, false);
    for (host, port) in targets {
        let sni = a.sni.clone().or_else(|| default_sni(&host));
        let mut report = probe_host(&host, port, sni, timeout, !a.no_fallback_probe);
        report.evaluations = policies.iter().map(|p| evaluate(p, &report)).collect();
        if report.unreachable() {
            let why = report.error.as_deref().unwrap_or("no connection succeeded");
            eprintln!("helloscope: {host}:{port} unreachable: {why}");
            unreachable = true;
        }
        problems |= report
            .evaluations
            .iter()
            .any(|e| e.verdict != "ready" || !e.findings.is_empty());
        output::write(&mut out, format, &report)?;
        out.flush()?;
    }
    Ok(if unreachable {
        ExitCode::from(2)
    } else if problems {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn build_policies(a: &ProbeArgs) -> Result<Vec<Policy>, Failure> {
    let mut out = Vec::new();
    for name in &a.policies {
        out.push(Policy::builtin(name).ok_or_else(|| {
            Failure(format!(
                "unknown policy {name:?} (built in: {})",
                Policy::BUILTIN.join(", ")
            ))
        })?);
    }
    if let Some(v) = &a.min_version {
        // Hosts do not matter here: the policy applies to every server probed.
        out.push(Policy {
            profile: "custom".into(),
            hosts: Vec::new(),
            host_ips: Vec::new(),
            min_version: policy::parse_version(v).map_err(Failure)?,
            legacy_hosts: Vec::new(),
        });
    }
    Ok(out)
}

/// A server is ready for a peer that speaks only the policy's minimum or higher when it
/// accepts one of those versions; the versions below the minimum it still accepts are what a
/// cut-over is meant to switch off, so each is a finding.
fn evaluate(p: &Policy, r: &HostReport) -> ServerEvaluation {
    let accepted = r.accepted();
    let verdict = if r.unreachable() {
        "unreachable"
    } else if accepted.iter().any(|v| *v >= p.min_version) {
        "ready"
    } else {
        "breaks"
    };
    let findings = accepted
        .iter()
        .filter(|v| **v < p.min_version)
        .map(|v| format!("accepts {v}, below the minimum {}", p.min_version))
        .collect();
    ServerEvaluation {
        profile: p.profile.clone(),
        verdict,
        findings,
    }
}

/// `HOST`, `HOST:PORT`, `[V6]:PORT`, or a bare IPv6 address.
fn parse_target(t: &str) -> Result<(String, u16), Failure> {
    let bad = || Failure(format!("{t:?}: expected HOST, HOST:PORT or [IPV6]:PORT"));
    if let Some(rest) = t.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => 443,
            None => return Err(bad()),
        };
        return Ok((h.to_string(), port));
    }
    if t.parse::<IpAddr>().is_ok() {
        return Ok((t.to_string(), 443));
    }
    match t.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => Ok((h.to_string(), p.parse().map_err(|_| bad())?)),
        Some(_) => Err(bad()),
        None if t.is_empty() => Err(bad()),
        None => Ok((t.to_string(), 443)),
    }
}

/// RFC 6066 §3: literal addresses are not sent as server_name.
fn default_sni(host: &str) -> Option<String> {
    host.parse::<IpAddr>().is_err().then(|| host.to_string())
}

fn probe_host(
    host: &str,
    port: u16,
    sni: Option<String>,
    timeout: Duration,
    fallback_probe: bool,
) -> HostReport {
    let mut report = HostReport {
        host: host.to_string(),
        port,
        address: None,
        sni,
        error: None,
        results: Vec::new(),
        fallback: Fallback::NotTested,
        sentinel: Sentinel::NotApplicable,
        evaluations: Vec::new(),
    };
    // Resolved once, so every probe of a host reaches the same server: the first address
    // that takes a connection. An address that refuses is not tried again, so a host costs
    // at most one failed connection per address (eight at most) beside its probes.
    let mut candidates: Vec<SocketAddr> = match (host, port).to_socket_addrs() {
        Ok(a) => a.take(8).collect(),
        Err(e) => {
            report.error = Some(format!("{host}: {e}"));
            return report;
        }
    };
    if candidates.is_empty() {
        report.error = Some(format!("{host}: no address"));
        return report;
    }
    let sni = report.sni.clone();
    for v in PROBED {
        let mut outcome = Outcome::ConnectFailed;
        while let Some(&addr) = candidates.first() {
            outcome = probe_once(addr, v, sni.as_deref(), false, timeout);
            if outcome != Outcome::ConnectFailed {
                report.address = Some(addr);
                candidates.truncate(1);
                break;
            }
            candidates.remove(0);
        }
        report.results.push(VersionResult {
            offered: v,
            outcome,
        });
    }
    report.sentinel = sentinel(&report.results);
    if fallback_probe {
        let accepted = report.accepted();
        // The version just below the highest accepted, as a client retrying after a failed
        // handshake would offer (RFC 7507 §1); SSL 3.0 is no fallback anyone should make.
        let lower = accepted.iter().max().and_then(|h| {
            PROBED
                .iter()
                .rev()
                .find(|v| *v < h && **v >= TlsVersion::Tls10)
        });
        if let (Some(&lower), Some(addr)) = (lower, report.address) {
            let outcome = probe_once(addr, lower, sni.as_deref(), true, timeout);
            report.fallback = match outcome {
                Outcome::Alert(a) if a.description == AlertDescription::INAPPROPRIATE_FALLBACK => {
                    Fallback::Honoured { offered: lower }
                }
                Outcome::Accepted(_) => Fallback::Ignored { offered: lower },
                outcome => Fallback::Inconclusive {
                    offered: lower,
                    outcome,
                },
            };
        }
    }
    report
}

/// RFC 8446 §4.1.3: a TLS 1.3 server negotiating TLS 1.2 ends its random with `DOWNGRD\x01`,
/// and negotiating TLS 1.1 or below with `DOWNGRD\x00`.
fn sentinel(results: &[VersionResult]) -> Sentinel {
    let tls13 = results
        .iter()
        .any(|r| r.offered == TlsVersion::Tls13 && r.outcome.accepted());
    let lower: Vec<_> = results
        .iter()
        .filter(|r| r.offered < TlsVersion::Tls13)
        .filter_map(|r| match &r.outcome {
            Outcome::Accepted(s) => Some((r.offered, s.downgrade_sentinel)),
            _ => None,
        })
        .collect();
    if !tls13 || lower.is_empty() {
        return Sentinel::NotApplicable;
    }
    let right = |v: TlsVersion| {
        if v == TlsVersion::Tls12 {
            DowngradeSentinel::Tls12
        } else {
            DowngradeSentinel::Tls11OrBelow
        }
    };
    if lower.iter().all(|(v, s)| *s == Some(right(*v))) {
        Sentinel::Present
    } else {
        Sentinel::Missing
    }
}

/// One connection: send the hello, read until the answer is known, the deadline passes or
/// the byte cap is reached, close.
fn probe_once(
    addr: SocketAddr,
    version: TlsVersion,
    sni: Option<&str>,
    fallback_scsv: bool,
    timeout: Duration,
) -> Outcome {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else {
        return Outcome::ConnectFailed;
    };
    let spec = HelloSpec {
        version,
        sni,
        fallback_scsv,
    };
    let hello = hello::client_hello_record(&spec, &random_bytes());
    let deadline = Instant::now() + timeout;
    let _ = stream.set_write_timeout(Some(timeout));
    if let Err(e) = stream.write_all(&hello) {
        return io_outcome(&e);
    }
    let outcome = read_answer(&mut stream, version, deadline);
    let _ = stream.shutdown(Shutdown::Both);
    outcome
}

fn read_answer(stream: &mut TcpStream, offered: TlsVersion, deadline: Instant) -> Outcome {
    let mut buf = vec![0u8; MAX_REPLY_BYTES];
    let mut len = 0;
    let mut reader = ReplyReader::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Outcome::Timeout;
        }
        // The deadline is for the whole reply: a server dripping a byte at a time gets no
        // more time than one that is silent.
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut buf[len..]) {
            Ok(0) => return Outcome::Closed,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return io_outcome(&e),
        }
        if let Some(reply) = reader.feed(&buf[..len]) {
            return match reply {
                Reply::ServerHello(s) => classify(offered, s),
                Reply::Alert(a) => Outcome::Alert(a),
                Reply::Malformed(why) => Outcome::Malformed(why),
            };
        }
        if len == buf.len() {
            return Outcome::TooLong;
        }
    }
}

/// A ServerHello accepts the offer when it chooses the version offered.
fn classify(offered: TlsVersion, s: ServerHelloSummary) -> Outcome {
    match (s.version == offered, s.hello_retry_request) {
        (true, false) => Outcome::Accepted(s),
        (true, true) => Outcome::HelloRetryRequest(s),
        (false, _) => Outcome::OtherVersion(s),
    }
}

fn io_outcome(e: &io::Error) -> Outcome {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Outcome::Timeout,
        // Reset, aborted, broken pipe, and any other error once connected.
        _ => Outcome::Reset,
    }
}

/// Random bytes for the hello's random, session id and key share. Not secret: no key is
/// derived from them. `RandomState` is seeded from the operating system's generator.
fn random_bytes() -> [u8; 96] {
    let mut out = [0u8; 96];
    let state = RandomState::new();
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = state.build_hasher();
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}
