kind=rename
//- text
pub struct Config {
    pub verbose: bool,
    pub jobs: usize,
}

pub fn config(verbose: bool) -> Config {
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    Config { verbose, jobs }
}

pub fn describe(config: &Config) -> String {
    format!("{} jobs{}", config.jobs, if config.verbose { ", verbose" } else { "" })
}
//- edit
3: jobs -> threads
//- expect
8: jobs } -> threads: jobs }
12.2: jobs -> threads
