kind=rename
//- text
use std::num::ParseIntError;

fn parse_port(text: &str) -> Result<u16, ParseIntError> {
    text.trim().parse::<u16>()
}

pub struct Listener {
    port: u16,
}

impl Listener {
    pub fn parse_port(&self) -> u16 {
        self.port
    }

    pub fn from_env(value: &str) -> Option<Listener> {
        let port = parse_port(value).ok()?;
        Some(Listener { port })
    }
}

pub fn describe(value: &str) -> String {
    match parse_port(value) {
        Ok(port) => format!("port {port}"),
        Err(err) => format!("invalid port: {err}"),
    }
}
//- edit
3: parse_port -> port_from
//- expect
17: parse_port -> port_from
23: parse_port -> port_from
