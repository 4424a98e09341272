kind=arguments
//- text
use std::path::Path;

fn render(template: &str, name: &str, debug: bool) -> String {
    if debug {
        eprintln!("rendering {name}");
    }
    template.replace("{name}", name)
}

pub fn greet(dir: &Path, name: &str) -> std::io::Result<String> {
    let template = std::fs::read_to_string(dir.join("greet.txt"))?;
    let text = render(&template, name, false);
    Ok(text)
}

pub fn farewell(dir: &Path, name: &str) -> std::io::Result<String> {
    let template = std::fs::read_to_string(dir.join("farewell.txt"))?;
    let text = render(&template, name, false);
    Ok(text)
}

pub fn debug_greet(template: &str) -> String {
    render(template, "world", true)
}
//- edit
12: name, false -> &name.to_uppercase(), false
//- expect
18: name, false -> &name.to_uppercase(), false
