kind=rename
//- text
use std::io::{self, Read};

pub fn read_header(reader: &mut impl Read, buf: &mut [u8; 16]) -> io::Result<u32> {
    reader.read_exact(buf)?;
    if &buf[..4] != b"NIB1" {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "bad magic"));
    }
    let len = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    eprintln!("header: {} bytes, {:?}", len, buf);
    Ok(len)
}

pub fn checksum(buf: &[u8]) -> u32 {
    buf.iter().fold(0u32, |sum, b| sum.wrapping_mul(31).wrapping_add(u32::from(*b)))
}
//- edit
3: buf -> header
//- expect
4: buf -> header
5: buf -> header
8: buf -> header
8.2: buf -> header
8.3: buf -> header
8.4: buf -> header
9: buf -> header
