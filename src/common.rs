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
    /// Minimum version (e.g. 1.2) of an ad-hoc policy, profile `custom`, over the --host and
    /// --host-ip given (which then do not extend --policy / --policy-file).
    #[arg(long, value_name = "VERSION")]
    pub min_version: Option<String>,
    /// Server name pattern (`api.example.com`, `*.example.com`; repeatable): with
    /// --min-version, the ad-hoc policy's hosts; without, added to every --policy and
    /// --policy-file policy.
    #[arg(long = "host", value_name = "PATTERN")]
    pub hosts: Vec<String>,
    /// Server address or block (repeatable), matched whatever the SNI, e.g. for clients that
    /// connect by address without SNI: with --min-version, the ad-hoc policy's; without, added
    /// to every --policy and --policy-file policy (`--policy procore --host-ip 10.0.0.0/8`).
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
    /// Write the readiness report as one self-contained HTML page to FILE (charts, the table
    /// of clients that break or fail, what was analysed).
    #[arg(long, value_name = "FILE")]
    pub report_html: Option<PathBuf>,
    /// Most flows tracked at once.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_flows: usize,
    /// Seconds without a packet after which a flow is reported and forgotten.
    #[arg(long, default_value_t = 120)]
    pub idle_timeout: u64,
    /// Most MiB held in reassembly buffers by all flows together.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub max_buffer_mib: usize,
    /// The sensor's name in each record (`sensor`), so that records of several gateways
    /// stay apart in one report [default: the host name].
    #[arg(long, value_name = "NAME")]
    pub sensor: Option<String>,
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

/// The policies the options select.
///
/// `--host` and `--host-ip` mean one of two things. With `--min-version` they describe an
/// ad-hoc policy (profile `custom`) of their own. Without it they extend every policy selected
/// by `--policy` and `--policy-file`, e.g. the vendor's servers reached by address rather than
/// by name (`--policy procore --host-ip 10.0.0.0/8`); with no such policy they are an error.
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
    let hosts: Vec<HostPattern> = c.hosts.iter().map(|h| HostPattern::new(h)).collect();
    let host_ips: Vec<IpNet> = c
        .host_ips
        .iter()
        .map(|s| IpNet::parse(s))
        .collect::<Result<_, _>>()
        .map_err(Failure)?;
    let extra = !hosts.is_empty() || !host_ips.is_empty();
    match &c.min_version {
        Some(_) if !extra => {
            return Err(Failure("--min-version needs --host or --host-ip".into()));
        }
        Some(v) => out.push(Policy {
            profile: "custom".into(),
            hosts,
            host_ips,
            min_version: policy::parse_version(v).map_err(Failure)?,
            legacy_hosts: vec![],
        }),
        None if extra && out.is_empty() => {
            return Err(Failure(
                "--host and --host-ip extend a --policy or --policy-file, or with --min-version \
                 form a policy of their own"
                    .into(),
            ));
        }
        None => {
            for p in &mut out {
                p.hosts.extend(hosts.iter().cloned());
                p.host_ips.extend(host_ips.iter().copied());
            }
        }
    }
    Ok(out)
}

/// `--sensor`, or the host name (empty when it cannot be read).
pub fn sensor_name(c: &Common) -> String {
    c.sensor.clone().unwrap_or_else(|| {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default()
    })
}

pub fn flow_config(c: &Common) -> FlowConfig {
    let mut cfg = FlowConfig::default();
    cfg.max_flows = c.max_flows.max(1);
    cfg.idle_timeout = Duration::from_secs(c.idle_timeout.max(1));
    cfg.max_buffer_total = c.max_buffer_mib.max(1) << 20;
    cfg
}
