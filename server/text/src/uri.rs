//! `file:` URIs and the paths they name. Editors name documents by URI; nib keys its symbol index, labels files in
//! prompts and finds workspace folders by path, so both directions go through here, once. Windows' rules (drive
//! letters, `\`, UNC shares, `\\?\` verbatim paths) and Unix's are pure functions of the text, so both are tested on
//! any machine; [`to_path`] and [`from_path`] apply this machine's.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// How a platform writes paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Unix,
    Windows,
}

impl Style {
    /// This machine's.
    pub const NATIVE: Style = if cfg!(windows) { Style::Windows } else { Style::Unix };
}

/// What a URI's path keeps unescaped: RFC 3986's unreserved characters, the separator `/` and a drive's `:`.
const PATH: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/').remove(b':');

/// The path a `file:` URI names on this machine; `None` for another scheme, or a file on another host on Unix.
pub fn to_path(uri: &str) -> Option<PathBuf> {
    to_path_as(uri, Style::NATIVE).map(PathBuf::from)
}

/// The `file:` URI of an absolute path on this machine.
pub fn from_path(path: &Path) -> String {
    from_path_as(&path.to_string_lossy(), Style::NATIVE)
}

/// The path a `file:` URI names, written in `style`: percent-decoded (invalid UTF-8 replaced), query and fragment
/// dropped; on Windows `file:///c%3A/a/b` is `C:\a\b` (the drive letter upper-cased, so that one file has one key
/// whatever case the editor sent) and `file://server/share/a` is the share `\\server\share\a`.
pub fn to_path_as(uri: &str, style: Style) -> Option<String> {
    let (scheme, rest) = uri.split_once(':')?;
    if !scheme.eq_ignore_ascii_case("file") {
        return None;
    }
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (host, path) = match rest.strip_prefix("//") {
        Some(authority) => authority.split_at(authority.find('/').unwrap_or(authority.len())),
        None => ("", rest),
    };
    let host = if host.eq_ignore_ascii_case("localhost") { "" } else { host };
    let path = percent_decode_str(path).decode_utf8_lossy();
    if path.is_empty() {
        return None;
    }
    match style {
        Style::Unix => (host.is_empty() && path.starts_with('/')).then(|| path.into_owned()),
        Style::Windows => {
            let path = path.replace('/', "\\");
            if !host.is_empty() {
                return Some(format!("\\\\{host}{path}"));
            }
            // `\C:\a` (from `/C:/a`) is the drive's path without its leading separator.
            let rest = path.strip_prefix('\\').unwrap_or(&path);
            Some(match drive(rest) {
                Some(letter) if rest.len() == 2 => format!("{letter}:\\"),
                Some(letter) => format!("{letter}:{}", &rest[2..]),
                None => path,
            })
        }
    }
}

/// The `file:` URI of an absolute path written in `style`. On Windows the verbatim prefix (`\\?\`, which
/// `std::fs::canonicalize` adds) is dropped, the drive letter upper-cased and a share's server becomes the host.
pub fn from_path_as(path: &str, style: Style) -> String {
    let path: Cow<'_, str> = match style {
        Style::Unix => Cow::Borrowed(path),
        Style::Windows => {
            let plain = match path.strip_prefix(r"\\?\") {
                Some(verbatim) => match verbatim.strip_prefix(r"UNC\") {
                    Some(share) => Cow::Owned(format!(r"\\{share}")),
                    None => Cow::Borrowed(verbatim),
                },
                None => Cow::Borrowed(path),
            };
            let slashed = plain.replace('\\', "/");
            match drive(&slashed) {
                Some(letter) => Cow::Owned(format!("/{letter}{}", &slashed[1..])),
                None => Cow::Owned(slashed),
            }
        }
    };
    // A share's path starts with `//server`, which the URI keeps as its host.
    match path.strip_prefix("//") {
        Some(share) => format!("file://{}", utf8_percent_encode(share, PATH)),
        None => format!("file://{}", utf8_percent_encode(&path, PATH)),
    }
}

/// The upper-cased drive letter of a path that starts with one (`c:`, `C:\...`, `C:/...`).
fn drive(path: &str) -> Option<char> {
    let mut chars = path.chars();
    let (letter, colon, after) = (chars.next()?, chars.next()?, chars.next());
    let ends = after.is_none_or(|c| c == '\\' || c == '/');
    (letter.is_ascii_alphabetic() && colon == ':' && ends).then(|| letter.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Style::{Unix, Windows};

    #[test]
    fn windows_uris_name_drive_paths() {
        let cases = [
            ("file:///C:/Users/a%20b/x.py", Some(r"C:\Users\a b\x.py")),
            ("file:///c%3A/Users/a%20b/x.py", Some(r"C:\Users\a b\x.py")),
            ("file:///c:/x.py", Some(r"C:\x.py")),
            ("FILE:///D:/", Some(r"D:\")),
            ("file:///D:", Some(r"D:\")),
            ("file://localhost/C:/x.py", Some(r"C:\x.py")),
            ("file://server/share/a%20b.py", Some(r"\\server\share\a b.py")),
            ("file:///C:/x.py?query#frag", Some(r"C:\x.py")),
            ("file:///C:/%E2%9C%93.py", Some(r"C:\✓.py")),
            // Not a drive: a folder named `ab:` and a path on the current drive.
            ("file:///ab:/x.py", Some(r"\ab:\x.py")),
            ("file:///x.py", Some(r"\x.py")),
            ("untitled:Untitled-1", None),
            ("https://example.com/x.py", None),
            ("file://", None),
            ("not a uri", None),
        ];
        for (uri, path) in cases {
            assert_eq!(to_path_as(uri, Windows).as_deref(), path, "{uri}");
        }
    }

    #[test]
    fn unix_uris_name_absolute_paths() {
        let cases = [
            ("file:///home/a%20b/x.py", Some("/home/a b/x.py")),
            ("file://localhost/x.py", Some("/x.py")),
            ("file:///fuzz/%E2%9C%93.py", Some("/fuzz/✓.py")),
            ("file:///a/b%2Fc", Some("/a/b/c")),
            ("file:///x.py#L3", Some("/x.py")),
            // Broken escapes are kept as written.
            ("file:///100%.py", Some("/100%.py")),
            // A file on another machine has no path here.
            ("file://server/share/x.py", None),
            ("file:x.py", None),
            ("untitled:Untitled-1", None),
        ];
        for (uri, path) in cases {
            assert_eq!(to_path_as(uri, Unix).as_deref(), path, "{uri}");
        }
    }

    #[test]
    fn windows_paths_become_uris() {
        let cases = [
            (r"C:\Users\a b\x.py", "file:///C:/Users/a%20b/x.py"),
            (r"c:\x.py", "file:///C:/x.py"),
            (r"\\?\C:\Users\a b\x.py", "file:///C:/Users/a%20b/x.py"),
            (r"\\server\share\x.py", "file://server/share/x.py"),
            (r"\\?\UNC\server\share\x.py", "file://server/share/x.py"),
            (r"C:\100% #1.py", "file:///C:/100%25%20%231.py"),
        ];
        for (path, uri) in cases {
            assert_eq!(from_path_as(path, Windows), uri, "{path}");
        }
    }

    #[test]
    fn unix_paths_become_uris() {
        assert_eq!(from_path_as("/home/a b/x.py", Unix), "file:///home/a%20b/x.py");
        assert_eq!(from_path_as("/w/✓ #?.py", Unix), "file:///w/%E2%9C%93%20%23%3F.py");
        // A backslash is a character of a Unix file name.
        assert_eq!(from_path_as(r"/w/a\b.py", Unix), "file:///w/a%5Cb.py");
    }

    #[test]
    fn paths_survive_the_round_trip() {
        for path in [r"C:\Users\a b\x.py", r"\\server\share\dir\x.py", r"D:\✓\[x]\100%.py"] {
            assert_eq!(to_path_as(&from_path_as(path, Windows), Windows).as_deref(), Some(path));
        }
        for path in ["/home/a b/x.py", "/w/✓/[x]/100%.py", r"/w/a\b.py"] {
            assert_eq!(to_path_as(&from_path_as(path, Unix), Unix).as_deref(), Some(path));
        }
    }
}
