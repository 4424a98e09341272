kind=signature
//- text
pub fn connect(host: &str, port: u16, retries: u32) -> std::io::Result<std::net::TcpStream> {
    let mut last = None;
    for _ in 0..retries.max(1) {
        match std::net::TcpStream::connect((host, port)) {
            Ok(stream) => return Ok(stream),
            Err(err) => last = Some(err),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no attempt")))
}

pub fn local(port: u16) -> std::io::Result<std::net::TcpStream> {
    connect("127.0.0.1", port, 3)
}
//- file client.rs
use crate::net::connect;

pub fn open(host: &str) -> std::io::Result<()> {
    let stream = connect(host, 443, 5)?;
    stream.set_nodelay(true)
}
//- edit
1: , retries: u32) -> )
//- expect
13: , 3) -> )
client.rs 4: , 5) -> )
