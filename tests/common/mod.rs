//! What the tests that run the `helloscope` binary on generated captures share: one run of
//! `analyze --format jsonl` and what its summary line says.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// One run of `helloscope analyze --format jsonl`.
pub struct Run {
    pub stderr: String,
    /// The records in output order, without the file name they came from.
    pub records: Vec<serde_json::Value>,
    /// The peak resident memory the summary line reports.
    pub peak_mib: u64,
}

/// Runs `helloscope analyze --format jsonl ARGS PATH`, which must succeed.
pub fn analyze(path: &Path, args: &[&str]) -> Run {
    let o = Command::new(env!("CARGO_BIN_EXE_helloscope"))
        .args(["analyze", "--format", "jsonl"])
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{stderr}");
    let peak_mib = stderr
        .split("peak memory ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in {stderr}"));
    let records = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let mut r: serde_json::Value = serde_json::from_str(l).unwrap();
            r.as_object_mut().unwrap().remove("source");
            r
        })
        .collect();
    eprintln!("{} {args:?}: {stderr}", path.display());
    Run {
        stderr,
        records,
        peak_mib,
    }
}

impl Run {
    /// The count of `name` shed for memory, from the summary line.
    pub fn shed(&self, name: &str) -> Option<u64> {
        let line = self.stderr.split("shed for --max-memory-mib: ").nth(1)?;
        let list = line.split(',').next()?;
        list.split(' ')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .map(|n| n.parse().unwrap())
    }

    /// The times the memory bound was said to be reached.
    pub fn notices(&self) -> usize {
        self.stderr.matches("MiB reached: ").count()
    }

    /// The general counter of `what` on the summary line (`974984 flows evicted …`).
    pub fn counter(&self, what: &str) -> u64 {
        let summary = self.stderr.lines().last().unwrap();
        let before = summary.split(what).next().unwrap();
        before
            .rsplit(", ")
            .next()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The `client_ip:client_port` of every record.
    pub fn clients(&self) -> BTreeSet<String> {
        self.records
            .iter()
            .map(|r| format!("{}:{}", r["client_ip"], r["client_port"]))
            .collect()
    }
}
