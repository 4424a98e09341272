kind=rename
//- text
pub fn greeting(name: &str, count: usize) -> String {
    let suffix = if count == 1 { "" } else { "s" };
    let plural = format!("{count} message{suffix}");
    format!("Hello {name}, you have {}", plural)
}
//- edit
2: suffix -> ending
//- expect
3: suffix -> ending
