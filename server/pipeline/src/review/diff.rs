//! Unified diffs (`git diff`, or any on stdin): which lines of which files changed.
//! Paths are untrusted: absolute ones, and ones that climb out with `..`, are refused.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff {
    /// Repository-relative, `/`-separated.
    pub path: String,
    /// 0-based lines of the new file that were added or changed.
    pub added: Vec<usize>,
    /// 0-based line ranges of the new file the hunks cover, context included.
    pub hunks: Vec<Range<usize>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DiffError {
    #[error("diff line {line}: {message}")]
    Malformed { line: usize, message: String },
    #[error("diff names {0:?}, which is outside the repository")]
    UnsafePath(String),
}

/// The files a unified diff adds to or changes (deleted files are left out). Hunk lines are counted
/// by their headers, so an added line that reads `+++ x` is still an added line.
pub fn parse(text: &str) -> Result<Vec<FileDiff>, DiffError> {
    let mut files: Vec<FileDiff> = Vec::new();
    let mut new_line = 0usize;
    // Old and new lines left in the current hunk.
    let (mut old_left, mut new_left) = (0usize, 0usize);
    for (n, line) in text.lines().enumerate() {
        let malformed = |message: &str| DiffError::Malformed { line: n + 1, message: message.to_owned() };
        if old_left > 0 || new_left > 0 {
            let Some(file) = files.last_mut() else { return Err(malformed("a hunk before any +++ line")) };
            match line.as_bytes().first() {
                Some(b'+') => {
                    file.added.push(new_line);
                    new_line += 1;
                    new_left = new_left.saturating_sub(1);
                }
                Some(b'-') => old_left = old_left.saturating_sub(1),
                Some(b'\\') => {}
                _ => {
                    new_line += 1;
                    old_left = old_left.saturating_sub(1);
                    new_left = new_left.saturating_sub(1);
                }
            }
        } else if let Some(target) = line.strip_prefix("+++ ") {
            let target = target.split('\t').next().unwrap_or_default().trim();
            if target != "/dev/null" {
                let path = target.strip_prefix("b/").unwrap_or(target);
                files.push(FileDiff { path: safe_path(path)?, added: Vec::new(), hunks: Vec::new() });
            } else {
                files.push(FileDiff { path: String::new(), added: Vec::new(), hunks: Vec::new() });
            }
        } else if let Some(header) = line.strip_prefix("@@ ") {
            let range = |sign: char| -> Result<(usize, usize), DiffError> {
                let part =
                    header.split_whitespace().find(|p| p.starts_with(sign)).ok_or_else(|| malformed("no range"))?;
                let (start, count) = part[1..].split_once(',').unwrap_or((&part[1..], "1"));
                Ok((
                    start.parse().map_err(|_| malformed("bad start"))?,
                    count.parse().map_err(|_| malformed("bad count"))?,
                ))
            };
            let ((_, old_count), (start, new_count)) = (range('-')?, range('+')?);
            let Some(file) = files.last_mut() else { return Err(malformed("a hunk before any +++ line")) };
            new_line = start.saturating_sub(1);
            file.hunks.push(new_line..new_line + new_count);
            (old_left, new_left) = (old_count, new_count);
        }
    }
    files.retain(|f| !f.path.is_empty());
    Ok(files)
}

fn safe_path(path: &str) -> Result<String, DiffError> {
    let climbs = path.split('/').any(|part| part == "..");
    if path.is_empty() || path.starts_with('/') || path.contains('\\') || path.contains(':') || climbs {
        return Err(DiffError::UnsafePath(path.to_owned()));
    }
    Ok(path.trim_start_matches("./").to_owned())
}

#[cfg(test)]
// One hunk is a list of one range here, not a list of its lines.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    const DIFF: &str = "\
diff --git a/src/a.py b/src/a.py
index 1..2 100644
--- a/src/a.py
+++ b/src/a.py
@@ -1,3 +1,4 @@ def f():
 def f(x):
-    return x
+    y = x * 2
+    return y
 
diff --git a/old.py b/old.py
--- a/old.py
+++ /dev/null
@@ -1 +0,0 @@
-gone
";

    #[test]
    fn added_lines_and_hunks_of_the_new_files() {
        let files = parse(DIFF).unwrap();
        assert_eq!(files, vec![FileDiff { path: "src/a.py".into(), added: vec![1, 2], hunks: vec![0..4] }]);
    }

    #[test]
    fn paths_outside_the_repository_are_refused() {
        for bad in ["/etc/passwd", "../x.py", "a/../../x.py", "C:/x.py"] {
            let diff = format!("+++ b/{bad}\n@@ -0,0 +1 @@\n+x\n");
            let diff = if bad.starts_with('/') { format!("+++ {bad}\n@@ -0,0 +1 @@\n+x\n") } else { diff };
            assert!(matches!(parse(&diff), Err(DiffError::UnsafePath(_))), "{bad}");
        }
        assert!(matches!(parse("@@ -1 +1 @@\n"), Err(DiffError::Malformed { .. })));
        // An added line that looks like a file header is still an added line.
        let tricky = parse("+++ b/x.py\n@@ -0,0 +1,2 @@\n+++ b/y.py\n+ok\n").unwrap();
        assert_eq!(tricky, vec![FileDiff { path: "x.py".into(), added: vec![0, 1], hunks: vec![0..2] }]);
    }
}
