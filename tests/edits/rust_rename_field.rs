kind=rename
//- text
pub struct Buffer {
    data: Vec<u8>,
    capacity: usize,
}

impl Buffer {
    pub fn new(capacity: usize) -> Buffer {
        Buffer { data: Vec::with_capacity(capacity), capacity: capacity }
    }

    pub fn push(&mut self, byte: u8) -> bool {
        if self.data.len() >= self.capacity {
            return false;
        }
        self.data.push(byte);
        true
    }

    pub fn remaining(&self) -> usize {
        self.capacity - self.data.len()
    }
}
//- edit
3: capacity -> limit
//- expect
8.3: capacity -> limit
12: capacity -> limit
20: capacity -> limit
