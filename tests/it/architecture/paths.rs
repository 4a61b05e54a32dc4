//! Reads the module paths a Rust file names: every `use` tree (multi-line, nested groups,
//! `self`, `super` and `crate` roots) and every `crate::…`, `super::…` and `self::…` path in
//! code, each resolved to an absolute path from the crate root. Inline modules (`mod tests {
//! … }`) are followed, so `super` inside one means the file's own module.

/// Code without comments, string literals or character literals (their braces would confuse
/// the module nesting, their text would look like paths).
pub fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_char(b.get(i.wrapping_sub(1))) {
            // A raw string: r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                i += if b[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && (b.get(i + 2) == Some(&'\'') || next == Some('\\')) {
            // A character literal ('x' or '\n', '\u{..}'); a lifetime has no closing quote.
            let mut j = i + 1;
            if next == Some('\\') {
                j += 2;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
            } else {
                j += 1;
            }
            i = j + 1;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_char(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || *c == '_')
}

/// Every module path `code` (see [`code_only`]) names, with the line it is on, resolved against
/// `module` (the file's module path from the crate root). Paths that start elsewhere (std,
/// other crates, a child module named bare) are left out.
pub fn named_paths(code: &str, module: &[String]) -> Vec<(usize, Vec<String>)> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    // (brace depth at which an inline module opened, its name)
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => line += 1,
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(d, _)| *d == depth) {
                    inline.pop();
                }
            }
            _ => {}
        }
        let at_word = !ident_char(i.checked_sub(1).and_then(|p| chars.get(p)));
        let here: Vec<String> = module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(_, n)| n.clone()))
            .collect();
        if at_word && starts_with(&chars, i, "mod ") {
            let rest: String = chars[i + 4..].iter().take_while(|c| **c != ';' && **c != '{').collect();
            let after = chars.get(i + 4 + rest.chars().count());
            if after == Some(&'{') {
                inline.push((depth, rest.trim().to_string()));
                depth += 1;
                i += 4 + rest.chars().count() + 1;
                continue;
            }
        }
        if at_word && starts_with(&chars, i, "use ") {
            let tree: String = chars[i + 4..].iter().take_while(|c| **c != ';').collect();
            for path in expand(&[], &tree) {
                if let Some(p) = resolve(&path, &here) {
                    found.push((line, p));
                }
            }
            line += tree.matches('\n').count();
            i += 4 + tree.chars().count();
            continue;
        }
        if at_word
            && ["crate::", "super::", "self::"]
                .iter()
                .any(|r| starts_with(&chars, i, r))
        {
            let path: String = chars[i..]
                .iter()
                .take_while(|c| c.is_alphanumeric() || **c == '_' || **c == ':')
                .collect();
            let segments: Vec<String> = path.split("::").filter(|s| !s.is_empty()).map(String::from).collect();
            if let Some(p) = resolve(&segments, &here) {
                found.push((line, p));
            }
            i += path.chars().count();
            continue;
        }
        i += 1;
    }
    found
}

fn starts_with(chars: &[char], at: usize, word: &str) -> bool {
    word.chars().enumerate().all(|(k, w)| chars.get(at + k) == Some(&w))
}

/// The paths of a `use` tree under `prefix`: `a::b::{c, d::{e, f}, self}`.
pub fn expand(prefix: &[String], tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let bare = tree.split(" as ").next().unwrap_or("").trim();
        let mut path = prefix.to_vec();
        for seg in bare.split("::").map(str::trim).filter(|s| !s.is_empty()) {
            if seg != "self" || path.is_empty() {
                path.push(seg.to_string());
            }
        }
        return if path.is_empty() { vec![] } else { vec![path] };
    };
    let head = tree[..open].trim().trim_end_matches("::");
    let mut base = prefix.to_vec();
    base.extend(
        head.split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from),
    );
    let close = tree.rfind('}').unwrap_or(tree.len());
    let inner = &tree[open + 1..close];
    let (mut items, mut level, mut start) = (Vec::new(), 0, 0);
    for (k, ch) in inner.char_indices() {
        match ch {
            '{' => level += 1,
            '}' => level -= 1,
            ',' if level == 0 => {
                items.push(&inner[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|it| !it.trim().is_empty())
        .flat_map(|it| expand(&base, it))
        .collect()
}

/// `path` from the crate root, seen from module `here`; `None` for a path that does not start
/// at `crate`, `super` or `self` (std, another crate, a child module).
pub fn resolve(path: &[String], here: &[String]) -> Option<Vec<String>> {
    let (first, rest) = path.split_first()?;
    let mut base: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => here[..here.len().checked_sub(1)?].to_vec(),
        _ => return None,
    };
    let mut rest = rest;
    while let Some(("super", tail)) = rest.split_first().map(|(h, t)| (h.as_str(), t)) {
        base.pop()?;
        rest = tail;
    }
    base.extend(rest.iter().filter(|s| *s != "*").cloned());
    Some(base)
}
