kind=rename
//- text
pub fn normalize(path: &str) -> String {
    let path = path.trim();
    let path = path.strip_prefix("./").unwrap_or(path);
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    parts.join("/")
}
//- edit
4: path.split -> clean.split
//- expect
3: let path -> let clean
