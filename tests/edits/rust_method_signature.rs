kind=signature
//- text
pub struct Store {
    items: Vec<(String, u64)>,
}

impl Store {
    pub fn insert(&mut self, key: &str, ttl: u64, value: u64) {
        let _ = ttl;
        self.items.push((key.to_string(), value));
    }

    pub fn seed(&mut self) {
        self.insert("a", 60, 1);
        self.insert("b", 60, 2);
    }
}

pub fn fill(store: &mut Store, n: u64) {
    for i in 0..n {
        store.insert(&i.to_string(), 3600, i);
    }
}
//- edit
6: key: &str, ttl: u64, value -> key: &str, value
//- expect
12: "a", 60, 1 -> "a", 1
13: "b", 60, 2 -> "b", 2
19: 3600, i -> i
