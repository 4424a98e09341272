kind=literal
//- text
use std::time::Duration;

pub struct Retry {
    pub attempts: u32,
    pub delay: Duration,
}

pub fn network() -> Retry {
    Retry { attempts: 3, delay: Duration::from_secs(5) }
}

pub fn disk() -> Retry {
    Retry { attempts: 5, delay: Duration::from_millis(5) }
}

pub fn poll_interval() -> Duration {
    Duration::from_secs(30)
}
//- edit
9: from_secs(5) -> from_secs(2)
//- expect
none
