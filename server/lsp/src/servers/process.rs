//! This process's resident memory and CPU time, from `/proc` (Linux; `None` elsewhere).

use std::time::{Duration, Instant};

/// `/proc/<pid>/stat` counts CPU time in USER_HZ ticks, which Linux fixes at 100 for user space.
const TICKS_PER_SECOND: f64 = 100.0;

/// Resident memory in bytes (`VmRSS`).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU time used so far by every thread of the process (user + system).
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_cpu_ticks(&stat).map(|ticks| Duration::from_secs_f64(ticks as f64 / TICKS_PER_SECOND))
}

/// utime + stime: fields 14 and 15, counted after the command name, which may hold spaces and parentheses.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// CPU use between two calls, in percent of one core.
#[derive(Debug, Default)]
pub struct CpuMeter {
    last: Option<(Instant, Duration)>,
}

impl CpuMeter {
    pub fn percent(&mut self, now: Instant, used: Duration) -> Option<f64> {
        let previous = self.last.replace((now, used));
        let (at, before) = previous?;
        let elapsed = now.duration_since(at).as_secs_f64();
        (elapsed > 0.0).then(|| used.saturating_sub(before).as_secs_f64() / elapsed * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        assert_eq!(parse_vm_rss("Name:\tnib\nVmRSS:\t  2048 kB\nThreads: 9\n"), Some(2 * 1024 * 1024));
        assert_eq!(parse_vm_rss("Name:\tnib\n"), None);
        let stat = "42 (nib (x) y) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1000";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn cpu_percent_from_deltas() {
        let start = Instant::now();
        let mut meter = CpuMeter::default();
        assert_eq!(meter.percent(start, Duration::from_secs(5)), None);
        let percent = meter.percent(start + Duration::from_secs(2), Duration::from_secs(6));
        assert_eq!(percent, Some(50.0));
    }
}
