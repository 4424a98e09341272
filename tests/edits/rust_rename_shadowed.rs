kind=rename
//- text
pub fn parse_lines(input: &str) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for raw in input.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.trim_end_matches(';');
        if let Some((key, value)) = line.split_once('=') {
            out.push((key.trim().to_string(), value.trim().parse().unwrap_or(0)));
        }
    }
    out
}
//- edit
4: line -> entry
//- expect
5: line -> entry
5.2: line -> entry
8.2: line -> entry
