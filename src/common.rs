//! Options every command shares, and what is built from them: the policies and the flow table's
//! bounds.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use helloscope_capture::FlowConfig;

use crate::output::Format;
use crate::policy::{self, HostPattern, IpNet, Policy};

#[derive(Args)]
pub struct Common {
    /// Output format [default: table on a terminal, jsonl otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write records to FILE instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A built-in policy: procore, onepagecrm (repeatable).
    #[arg(long = "policy", value_name = "NAME")]
    pub policies: Vec<String>,
    /// A TOML policy file (see README).
    #[arg(long, value_name = "FILE")]
    pub policy_file: Option<PathBuf>,
    /// Minimum version for an ad-hoc policy over --host / --host-ip (e.g. 1.2).
    #[arg(long, value_name = "VERSION")]
    pub min_version: Option<String>,
    /// Host pattern for --min-version (`api.example.com`, `*.example.com`; repeatable).
    #[arg(long = "host", value_name = "PATTERN")]
    pub hosts: Vec<String>,
    /// Server address or block for flows without SNI (repeatable).
    #[arg(long = "host-ip", value_name = "ADDR[/LEN]")]
    pub host_ips: Vec<String>,
    /// More TLS stack entries (TOML, the format of src/stacks.toml), tried before the built-in
    /// ones.
    #[arg(long, value_name = "FILE")]
    pub stack_file: Option<PathBuf>,
    /// Print the readiness report (to standard error when records go to standard output
    /// in jsonl/csv; after the table otherwise).
    #[arg(long)]
    pub report: bool,
    /// Most flows tracked at once.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_flows: usize,
    /// Seconds without a packet after which a flow is reported and forgotten.
    #[arg(long, default_value_t = 120)]
    pub idle_timeout: u64,
    /// Most MiB held in reassembly buffers by all flows together.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub max_buffer_mib: usize,
    /// Analyzer threads: flows are sharded by a symmetric hash of their endpoints (records
    /// then come out in a different order).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub threads: usize,
}

/// A reason to stop with exit status 2, said on standard error.
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

pub fn build_policies(c: &Common) -> Result<Vec<Policy>, Failure> {
    let mut out = Vec::new();
    for name in &c.policies {
        out.push(Policy::builtin(name).ok_or_else(|| {
            Failure(format!(
                "unknown policy {name:?} (built in: {})",
                Policy::BUILTIN.join(", ")
            ))
        })?);
    }
    if let Some(path) = &c.policy_file {
        out.extend(policy::load_file(path).map_err(Failure)?);
    }
    match &c.min_version {
        Some(v) => {
            if c.hosts.is_empty() && c.host_ips.is_empty() {
                return Err(Failure("--min-version needs --host or --host-ip".into()));
            }
            out.push(Policy {
                profile: "custom".into(),
                hosts: c.hosts.iter().map(|h| HostPattern::new(h)).collect(),
                host_ips: c
                    .host_ips
                    .iter()
                    .map(|s| IpNet::parse(s))
                    .collect::<Result<_, _>>()
                    .map_err(Failure)?,
                min_version: policy::parse_version(v).map_err(Failure)?,
                legacy_hosts: vec![],
            });
        }
        None if !c.hosts.is_empty() || !c.host_ips.is_empty() => {
            return Err(Failure("--host and --host-ip need --min-version".into()));
        }
        None => {}
    }
    // --host-ip also applies to the built-in profiles: servers reached without SNI.
    if c.min_version.is_none() {
        let nets: Vec<IpNet> = c
            .host_ips
            .iter()
            .filter_map(|s| IpNet::parse(s).ok())
            .collect();
        for p in &mut out {
            p.host_ips.extend(nets.iter().copied());
        }
    }
    Ok(out)
}

pub fn flow_config(c: &Common) -> FlowConfig {
    FlowConfig {
        max_flows: c.max_flows.max(1),
        idle_timeout: Duration::from_secs(c.idle_timeout.max(1)),
        max_buffer_total: c.max_buffer_mib.max(1) << 20,
        ..FlowConfig::default()
    }
}
