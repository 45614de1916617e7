//! Name rules (tasks, extensions, members, env vars) and "did you mean" suggestions.

/// Task, extension and member names: `[a-z0-9][a-z0-9_-]*`.
///
/// Lowercase only so that names are the same on case-insensitive file systems and in step ids;
/// no `/` or `:` because those separate a member from a task and a task from a step.
pub(crate) fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Environment variable names: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The closest candidate to `typed`, if it is close enough to be a likely typo: at most one
/// edit per three characters (at least one), comparing case-insensitively, where swapping two
/// adjacent characters counts as one edit. Ties go to the first candidate.
pub fn did_you_mean<'a, I>(typed: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let typed_lower = typed.to_lowercase();
    let limit = (typed.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate == typed {
            continue;
        }
        let distance = edit_distance(&typed_lower, &candidate.to_lowercase());
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c.to_owned())
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rolling rows: i-2, i-1, i.
    let mut prev2 = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "model", "api-docs", "v2_schema", "0day"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "Model", "-a", "_a", "a/b", "a:b", "a b", "é"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert!(is_valid_env_name("HOME"));
        assert!(is_valid_env_name("_my_var1"));
        assert!(!is_valid_env_name("1X"));
        assert!(!is_valid_env_name("A-B"));
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("cache", "cahce"), 1);
        assert_eq!(edit_distance("frontend", "frontnd"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions() {
        let keys = [
            "frontend",
            "transforms",
            "backends",
            "depends_on",
            "env",
            "cache",
        ];
        assert_eq!(did_you_mean("frontnd", keys).as_deref(), Some("frontend"));
        assert_eq!(did_you_mean("cahce", keys).as_deref(), Some("cache"));
        assert_eq!(
            did_you_mean("depend_on", keys).as_deref(),
            Some("depends_on")
        );
        assert_eq!(did_you_mean("Backends", keys).as_deref(), Some("backends"));
        assert_eq!(did_you_mean("zzzzzz", keys), None);
    }
}
