kind=rename
//- text
pub struct Job {
    pub name: String,
    pub retries: u32,
}

pub fn describe(job: &Job, limit: u32) -> String {
    let retries = job.retries.min(limit);
    assert!(retries <= limit, "{} retried {} times", job.name, job.retries);
    format!("{}: {} of {} retries", job.name, retries, limit)
}
//- edit
7: retries -> attempts
//- expect
8: retries -> attempts
9.2: retries -> attempts
