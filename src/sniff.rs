//! `helloscope sniff`: a live interface, records out as flows are decided.

use std::io;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Args;
use helloscope_capture::{Analyzer, FlowRecord, LiveConfig, PacketSource};

use crate::common::{flow_config, Common, Failure};
use crate::sink::make_sink;

pub const EXAMPLES_SNIFF: &str = "Examples:
  sudo helloscope sniff -i eth0
  sudo helloscope sniff -i any -f 'tcp port 443' --policy onepagecrm --report";

/// `sniff`'s own options.
#[derive(Args)]
pub struct SniffArgs {
    /// Interface to capture on.
    #[arg(short = 'i', long)]
    pub interface: String,
    /// BPF filter.
    #[arg(short = 'f', long)]
    pub filter: Option<String>,
    /// Bytes kept per packet.
    #[arg(long, default_value_t = 65535)]
    pub snaplen: i32,
    /// Do not put the interface in promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,
    /// Kernel capture buffer, in MiB.
    #[arg(long, default_value_t = 16)]
    pub buffer_mib: i32,
    /// Drop privileges to this user once the interface is open (start as root, or give
    /// the binary cap_net_raw,cap_net_admin instead).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

/// Runs `sniff`.
pub fn run(a: &SniffArgs) -> Result<ExitCode, Failure> {
    let o = SniffOptions {
        interface: &a.interface,
        filter: a.filter.as_deref(),
        snaplen: a.snaplen,
        promisc: !a.no_promisc,
        buffer_mib: a.buffer_mib,
        user: a.user.as_deref(),
    };
    sniff(o, &a.common)
}

/// Becomes `name` (its uid, primary gid and only that group), for good.
fn drop_privileges(name: &str) -> Result<(), Failure> {
    use nix::unistd::{getuid, setgid, setgroups, setuid, User};
    let user = User::from_name(name)
        .map_err(|e| Failure(format!("--user {name}: {e}")))?
        .ok_or_else(|| Failure(format!("--user {name}: no such user")))?;
    setgroups(&[user.gid]).map_err(|e| Failure(format!("--user {name}: setgroups: {e}")))?;
    setgid(user.gid).map_err(|e| Failure(format!("--user {name}: setgid: {e}")))?;
    setuid(user.uid).map_err(|e| Failure(format!("--user {name}: setuid: {e}")))?;
    if getuid() != user.uid
        || (user.uid.as_raw() != 0 && setuid(nix::unistd::Uid::from_raw(0)).is_ok())
    {
        return Err(Failure(format!(
            "--user {name}: privileges were not dropped"
        )));
    }
    Ok(())
}

struct SniffOptions<'a> {
    interface: &'a str,
    filter: Option<&'a str>,
    snaplen: i32,
    promisc: bool,
    buffer_mib: i32,
    user: Option<&'a str>,
}

fn sniff(o: SniffOptions<'_>, c: &Common) -> Result<ExitCode, Failure> {
    let SniffOptions {
        interface,
        filter,
        snaplen,
        promisc,
        buffer_mib,
        user,
    } = o;
    let cfg = LiveConfig {
        interface: interface.to_owned(),
        snaplen,
        promiscuous: promisc,
        buffer_size: buffer_mib.max(1).saturating_mul(1 << 20),
        ..LiveConfig::default()
    };
    let mut source = PacketSource::open_live(&cfg)?;
    if let Some(f) = filter {
        source.set_filter(f)?;
    }
    if let Some(name) = user {
        drop_privileges(name)?;
    }
    eprintln!(
        "helloscope: listening on {interface}{}",
        filter.map(|f| format!(" ({f})")).unwrap_or_default()
    );
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .map_err(|e| Failure(format!("cannot install the Ctrl-C handler: {e}")))?;
    }
    let mut sink = make_sink(c, true)?;
    sink.sources = vec![format!("interface {}", o.interface)];
    let mut analyzer = Analyzer::new(flow_config(c));
    let link = source.link_type();
    let mut io_err: Option<io::Error> = None;
    let mut emit = |r: FlowRecord| {
        if io_err.is_none() {
            if let Err(e) = sink.record(&r, interface) {
                io_err = Some(e);
            }
        }
    };
    while !stop.load(Ordering::SeqCst) {
        match source.next_packet() {
            Ok(Some(p)) => analyzer.process(p.ts, link, p.data, &mut emit),
            Ok(None) => {}
            Err(e) => {
                eprintln!("helloscope: {e}");
                break;
            }
        }
    }
    analyzer.finish(&mut emit);
    if let Some(e) = io_err {
        return Err(Failure(format!("writing output: {e}")));
    }
    sink.finish(analyzer.stats())?;
    if let Some(s) = source.capture_stats() {
        eprintln!(
            "helloscope: capture: {} received, {} dropped by kernel, {} dropped by interface",
            s.received, s.dropped_by_kernel, s.dropped_by_interface
        );
    }
    Ok(if sink.problems {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
