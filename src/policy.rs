//! Cut-over policies: which hosts a vendor's change affects, the minimum version it will
//! accept, and hosts that are going away.

use std::net::IpAddr;
use std::path::Path;

use helloscope_capture::{FlowRecord, Outcome};
use helloscope_tls::{AlertDescription, TlsVersion};
use serde::Deserialize;

/// A host pattern: `api.example.com`, or `*.example.com` (which also matches `example.com`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPattern(String);

impl HostPattern {
    pub fn new(p: &str) -> Self {
        HostPattern(p.trim().trim_end_matches('.').to_ascii_lowercase())
    }

    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self.0.strip_prefix("*.") {
            Some(domain) => host == domain || host.ends_with(&format!(".{domain}")),
            None => host == self.0,
        }
    }
}

/// An address block for servers reached without SNI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| format!("bad address {s:?}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or(format!("bad prefix in {s:?}"))?,
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix)
                };
                u32::from(n) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix)
                };
                u128::from(n) & mask == u128::from(i) & mask
            }
            _ => false,
        }
    }
}

/// A host that is going away for some clients.
#[derive(Clone, Debug)]
pub struct LegacyHost {
    pub host: HostPattern,
    /// Flag only clients that are not browsers (a browser on the web app host is fine).
    pub non_browser_only: bool,
    pub message: String,
}

/// One policy.
#[derive(Clone, Debug)]
pub struct Policy {
    pub profile: String,
    pub hosts: Vec<HostPattern>,
    pub host_ips: Vec<IpNet>,
    pub min_version: TlsVersion,
    pub legacy_hosts: Vec<LegacyHost>,
}

/// The policy's judgement of a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// The client offers the minimum or better.
    Ready,
    /// Its best offer is below the minimum: it will fail at cut-over.
    Breaks,
    /// It fails already: a version alert, or a reset right after its hello.
    Failing,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ready => "ready",
            Verdict::Breaks => "breaks",
            Verdict::Failing => "failing",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub code: &'static str,
    pub message: String,
    /// What to change, in plain words, from the client's TLS stack (set by the sink for
    /// `below_minimum`; see stack.rs).
    pub remediation: Option<std::sync::Arc<str>>,
}

#[derive(Clone, Debug)]
pub struct Evaluation {
    pub profile: String,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
}

/// Parses `1.2`, `TLS1.2`, `tls 1.2`, `TLS 1.3`, `SSL3` …
pub fn parse_version(s: &str) -> Result<TlsVersion, String> {
    let t: String = s
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let t = t.trim_start_matches("tlsv").trim_start_matches("tls");
    Ok(match t {
        "1.0" | "10" | "1" => TlsVersion::Tls10,
        "1.1" | "11" => TlsVersion::Tls11,
        "1.2" | "12" => TlsVersion::Tls12,
        "1.3" | "13" => TlsVersion::Tls13,
        "ssl3" | "sslv3" | "ssl3.0" | "3.0" => TlsVersion::Ssl3,
        _ => {
            return Err(format!(
                "unknown TLS version {s:?} (use 1.0, 1.1, 1.2 or 1.3)"
            ))
        }
    })
}

/// A browser, as far as a ClientHello shows: GREASE (Chromium, Edge, Safari and other
/// BoringSSL-based browsers), or Firefox's habits together: record_size_limit (0x001c) and
/// signed_certificate_timestamp (0x0012), and no encrypt_then_mac (0x0016), which NSS does
/// not implement. No ALPN condition: Firefox pinned to TLS 1.0 offers no h2. GnuTLS also
/// sends record_size_limit (and libcurl on GnuTLS offers h2 with it), but it sends
/// encrypt_then_mac and no SCT request (`captures/stacks/clients.pcap`). OpenSSL, Java,
/// .NET/SChannel, Go and Python send none of these together.
pub fn looks_like_browser(r: &FlowRecord) -> bool {
    let Some(ch) = &r.client_hello else {
        return false;
    };
    let has = |t: u16| ch.extensions.contains(&t);
    ch.grease || (has(0x001c) && has(0x0012) && !has(0x0016))
}

impl Policy {
    pub fn builtin(name: &str) -> Option<Policy> {
        match name {
            "procore" => Some(Policy {
                profile: "procore".into(),
                hosts: vec![HostPattern::new("*.procore.com")],
                host_ips: vec![],
                min_version: TlsVersion::Tls12,
                legacy_hosts: vec![LegacyHost {
                    host: HostPattern::new("app.procore.com"),
                    non_browser_only: true,
                    message: "API calls must go to api.procore.com and OAuth to login.procore.com, not app.procore.com".into(),
                }],
            }),
            "onepagecrm" => Some(Policy {
                profile: "onepagecrm".into(),
                hosts: vec![HostPattern::new("*.onepagecrm.com")],
                host_ips: vec![],
                min_version: TlsVersion::Tls12,
                legacy_hosts: vec![],
            }),
            _ => None,
        }
    }

    pub const BUILTIN: &'static [&'static str] = &["procore", "onepagecrm"];

    /// Does this flow fall under the policy? By SNI, else by server address.
    pub fn matches(&self, r: &FlowRecord) -> bool {
        let sni = r.client_hello.as_ref().and_then(|c| c.sni.as_deref());
        if let Some(sni) = sni {
            if self.hosts.iter().any(|h| h.matches(sni)) {
                return true;
            }
        }
        self.host_ips.iter().any(|n| n.contains(r.server.ip()))
    }

    pub fn evaluate(&self, r: &FlowRecord) -> Option<Evaluation> {
        if !self.matches(r) {
            return None;
        }
        let ch = r.client_hello.as_ref();
        let mut findings = Vec::new();
        // DTLS versions count as the TLS versions they are built on; QUIC is TLS 1.3 by
        // definition (RFC 9001 §4.2), whatever else its hello lists.
        let quic = r.transport == helloscope_tls::Transport::Quic;
        let offered = ch.map(|c| match quic {
            true => TlsVersion::Tls13,
            false => c.version_offered_max,
        });
        let version_refused = match r.outcome {
            Outcome::Alert {
                description, from, ..
            } => {
                from == helloscope_capture::Side::Server
                    && matches!(
                        description,
                        AlertDescription::PROTOCOL_VERSION
                            | AlertDescription::HANDSHAKE_FAILURE
                            | AlertDescription::INAPPROPRIATE_FALLBACK
                            | AlertDescription(71)
                    )
            }
            Outcome::Reset { from } => {
                from == helloscope_capture::Side::Server && r.server_hello.is_none()
            }
            _ => false,
        };
        let below = offered.is_some_and(|v| v.tls_equivalent() < self.min_version);
        let verdict = if version_refused && (below || r.server_hello.is_none()) {
            Verdict::Failing
        } else if below {
            Verdict::Breaks
        } else {
            Verdict::Ready
        };
        if verdict == Verdict::Failing {
            findings.push(Finding {
                code: "handshake_refused",
                remediation: None,
                message: format!("the server refused the handshake ({})", outcome_text(r)),
            });
        }
        if below {
            findings.push(Finding {
                code: "below_minimum",
                remediation: None,
                message: format!(
                    "best offer {} is below the minimum {}",
                    offered.map(|v| v.to_string()).unwrap_or_default(),
                    self.min_version
                ),
            });
        }
        if let Some(neg) = r.server_hello.as_ref().map(|s| s.version) {
            if !below && !quic && neg.tls_equivalent() < self.min_version {
                findings.push(Finding {
                    code: "negotiated_below_minimum",
                    remediation: None,
                    message: format!(
                        "negotiates {neg} today although it offers {}",
                        offered.map(|v| v.to_string()).unwrap_or_default()
                    ),
                });
            }
        }
        let sni = ch.and_then(|c| c.sni.as_deref());
        match sni {
            None => findings.push(Finding {
                code: "no_sni",
                remediation: None,
                message: "no server name: matched by server address; the client may not be able to follow a host move".into(),
            }),
            Some(sni) => {
                for l in &self.legacy_hosts {
                    if l.host.matches(sni) && !(l.non_browser_only && looks_like_browser(r)) {
                        findings.push(Finding {
                            code: "legacy_host",
                            remediation: None,
                            message: l.message.clone(),
                        });
                    }
                }
            }
        }
        if ch.is_some_and(|c| c.fallback_scsv) {
            findings.push(Finding {
                code: "fallback_retry",
                remediation: None,
                message: "TLS_FALLBACK_SCSV: this hello is a retry at a lower version after a failed attempt".into(),
            });
        }
        Some(Evaluation {
            profile: self.profile.clone(),
            verdict,
            findings,
        })
    }
}

fn outcome_text(r: &FlowRecord) -> String {
    match r.outcome {
        Outcome::Alert {
            description, from, ..
        } => format!("{} alert {description}", from.as_str()),
        Outcome::Reset { from } => format!("reset by {}", from.as_str()),
        o => o.name().to_string(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLegacyHost {
    host: String,
    #[serde(default)]
    non_browser_only: bool,
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePolicy {
    profile: String,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    host_ips: Vec<String>,
    min_version: String,
    #[serde(default)]
    legacy_host: Vec<FileLegacyHost>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    policy: Vec<FilePolicy>,
}

/// Reads a TOML policy file (see README, "Policies").
pub fn load_file(path: &Path) -> Result<Vec<Policy>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let f: PolicyFile = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    f.policy
        .into_iter()
        .map(|p| {
            Ok(Policy {
                profile: p.profile,
                hosts: p.hosts.iter().map(|h| HostPattern::new(h)).collect(),
                host_ips: p
                    .host_ips
                    .iter()
                    .map(|s| IpNet::parse(s))
                    .collect::<Result<_, _>>()?,
                min_version: parse_version(&p.min_version)?,
                legacy_hosts: p
                    .legacy_host
                    .into_iter()
                    .map(|l| LegacyHost {
                        message: l
                            .message
                            .unwrap_or_else(|| format!("{} is being retired", l.host)),
                        host: HostPattern::new(&l.host),
                        non_browser_only: l.non_browser_only,
                    })
                    .collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        let p = HostPattern::new("*.procore.com");
        assert!(p.matches("api.procore.com"));
        assert!(p.matches("API.Procore.com."));
        assert!(p.matches("procore.com"));
        assert!(!p.matches("notprocore.com"));
        assert!(!p.matches("procore.com.evil.net"));
        assert!(HostPattern::new("app.procore.com").matches("app.procore.com"));
        assert!(!HostPattern::new("app.procore.com").matches("api.procore.com"));
    }

    #[test]
    fn nets() {
        let n = IpNet::parse("10.1.0.0/16").unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(!n.contains("10.2.0.1".parse().unwrap()));
        assert!(IpNet::parse("::1")
            .unwrap()
            .contains("::1".parse().unwrap()));
        assert!(IpNet::parse("10.0.0.0/33").is_err());
    }

    /// DTLS versions count as the TLS versions they are built on, QUIC as TLS 1.3: over the
    /// recorded DTLS 1.0 and 1.2 handshakes and QUIC ones (captures/record_udp.sh).
    #[test]
    fn dtls_and_quic_versions_against_a_minimum() {
        use helloscope_capture::{Analyzer, FlowConfig, PacketSource};
        let mut records = Vec::new();
        let mut a = Analyzer::new(FlowConfig::default());
        for f in ["captures/dtls.pcap", "captures/quic.pcap"] {
            let path = format!("{}/{f}", env!("CARGO_MANIFEST_DIR"));
            let mut src = PacketSource::open_file(&path).unwrap();
            a.run(&mut src, &mut |r| records.push(r)).unwrap();
        }
        a.finish(&mut |r| records.push(r));
        let policy = |min| Policy {
            profile: "t".into(),
            hosts: vec![HostPattern::new("*.procore.com")],
            host_ips: vec![],
            min_version: min,
            legacy_hosts: vec![],
        };
        let mut seen = 0;
        for r in &records {
            let offered = r.client_hello.as_ref().unwrap().version_offered_max;
            let v12 = policy(TlsVersion::Tls12).evaluate(r).unwrap().verdict;
            let v13 = policy(TlsVersion::Tls13).evaluate(r).unwrap().verdict;
            let (want12, want13) = match (r.transport, offered) {
                (helloscope_tls::Transport::Quic, _) => (true, true),
                (_, TlsVersion::Dtls12) => (true, false),
                (_, TlsVersion::Dtls10) => (false, false),
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(v12 == Verdict::Ready, want12, "{r:?}");
            assert_eq!(v13 == Verdict::Ready, want13, "{r:?}");
            seen += 1;
        }
        assert_eq!(seen, 12);
    }

    /// Over every recorded client of `captures/record_stacks.sh`: Chromium and Firefox are
    /// browsers, every library and command-line client (libcurl on GnuTLS among them, which
    /// sends record_size_limit with an h2 offer) is not. Identities from the recording's
    /// `expected.jsonl`, not from helloscope.
    #[test]
    fn browsers_are_the_recorded_browsers() {
        use helloscope_capture::{Analyzer, FlowConfig, PacketSource};
        let dir = format!("{}/captures/stacks", env!("CARGO_MANIFEST_DIR"));
        let mut browser_ports = std::collections::HashMap::new();
        for line in std::fs::read_to_string(format!("{dir}/expected.jsonl"))
            .unwrap()
            .lines()
        {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let client = v["client"].as_str().unwrap();
            let port = v["server_port"].as_u64().unwrap() as u16;
            browser_ports.insert(port, matches!(client, "chromium" | "firefox-esr"));
        }
        let mut records = Vec::new();
        let mut a = Analyzer::new(FlowConfig::default());
        let mut src = PacketSource::open_file(&format!("{dir}/clients.pcap")).unwrap();
        a.run(&mut src, &mut |r| records.push(r)).unwrap();
        a.finish(&mut |r| records.push(r));
        let (mut browsers, mut others) = (0, 0);
        for r in records.iter().filter(|r| r.client_hello.is_some()) {
            let want = browser_ports[&r.server.port()];
            assert_eq!(looks_like_browser(r), want, "port {}", r.server.port());
            if want {
                browsers += 1;
            } else {
                others += 1;
            }
        }
        assert!(
            browsers >= 4 && others >= 28,
            "{browsers} browsers, {others} others"
        );
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("1.2").unwrap(), TlsVersion::Tls12);
        assert_eq!(parse_version("TLS 1.3").unwrap(), TlsVersion::Tls13);
        assert_eq!(parse_version("tlsv1.1").unwrap(), TlsVersion::Tls11);
        assert!(parse_version("1.4").is_err());
    }
}
