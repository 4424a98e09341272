kind=literal
//- text
use std::thread;
use std::time::Duration;

pub fn wait_for_server(ready: impl Fn() -> bool) -> bool {
    for _ in 0..20 {
        if ready() {
            return true;
        }
        thread::sleep(Duration::from_millis(250));
    }
    false
}

pub fn drain(queue: &mut Vec<u32>) {
    while let Some(job) = queue.pop() {
        println!("job {job}");
        thread::sleep(Duration::from_millis(250));
    }
    thread::sleep(Duration::from_millis(1000));
}
//- edit
9: 250 -> 100
//- expect
17: 250 -> 100
