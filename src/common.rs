//! Options every command shares, and what is built from them: the policies and the flow table's
//! bounds.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use helloscope_capture::memory::{Shed, ShedNotice};
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
    /// Most MiB held by everything that grows with traffic: followed flows, connections
    /// without data, finished flows, reassembly buffers, UDP exchanges, IP fragments, the
    /// fingerprint cache and the report's groups, all --threads together (0: no such bound).
    /// Each has a fixed share; --max-flows, --max-buffer-mib and the fixed bounds hold when
    /// smaller than their share, and are lowered to it otherwise (see README, "Memory
    /// bound"). What is shed for it is counted (memory_shed) and said once on standard error.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub max_memory_mib: usize,
    /// Most flows tracked at once (within --max-memory-mib).
    #[arg(long, default_value_t = 1 << 20)]
    pub max_flows: usize,
    /// Seconds without a packet after which a flow is reported and forgotten.
    #[arg(long, default_value_t = 120)]
    pub idle_timeout: u64,
    /// Most MiB held in reassembly buffers by all flows together (held to 3/16 of
    /// --max-memory-mib).
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
    let budget = c.max_memory_mib.saturating_mul(1 << 20);
    let mut cfg = FlowConfig::default();
    cfg.max_flows = c.max_flows.max(1);
    cfg.idle_timeout = Duration::from_secs(c.idle_timeout.max(1));
    cfg.max_buffer_total = c.max_buffer_mib.max(1) << 20;
    // The analyzers' part: what the report's groups and the stack names may take is set apart.
    cfg.max_memory = match budget {
        0 => 0,
        b => (b - 2 * (b / CLI_SHARE)).max(1),
    };
    cfg.notice = memory_notice(c);
    cfg
}

/// Told the first time anything is shed for --max-memory-mib: one for the whole run.
pub fn memory_notice(c: &Common) -> ShedNotice {
    static NOTICE: std::sync::OnceLock<ShedNotice> = std::sync::OnceLock::new();
    let mib = c.max_memory_mib;
    NOTICE
        .get_or_init(|| {
            ShedNotice::new(move |what: Shed| {
                eprintln!(
                    "helloscope: memory bound {mib} MiB reached: {} (counted as \
                     memory_shed.{}, and whatever else is shed for it beside it; said once)",
                    what.describe(),
                    what.name()
                );
            })
        })
        .clone()
}

/// The report's groups may take 1/CLI_SHARE of --max-memory-mib, and so may the caches of
/// stack names (one per thread that names stacks).
const CLI_SHARE: usize = 16;

/// Most bytes of each thread's cache of stack names, or `None` without a bound.
pub fn stack_cache_bytes(c: &Common) -> Option<usize> {
    let budget = c.max_memory_mib.saturating_mul(1 << 20);
    // With --threads the workers name the stacks; the main thread may too.
    let threads = c.threads.max(1) + usize::from(c.threads > 1);
    (budget > 0).then(|| budget / CLI_SHARE / threads)
}

/// What one group of the readiness report holds at worst: its key's strings (a client
/// address, a JA4, a server name of up to 253 bytes), its sets of versions and its stack's
/// name, and its entry in the report's table and hash index.
const REPORT_GROUP_BYTES: usize = 1024;

/// Most groups of the readiness report: [`crate::report::MAX_GROUPS`], or fewer when their
/// share of --max-memory-mib holds fewer.
pub fn report_groups(c: &Common) -> usize {
    let budget = c.max_memory_mib.saturating_mul(1 << 20);
    match budget {
        0 => crate::report::MAX_GROUPS,
        b => (b / CLI_SHARE / REPORT_GROUP_BYTES).clamp(1, crate::report::MAX_GROUPS),
    }
}
