//! Names people type: ids of entries, and "did you mean" for the misspelt
//! ones. Every stage that checks a name uses these, so they live apart from
//! any stage.

/// Ids and file stems: lowercase ASCII letters, digits and hyphens.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The closest candidate to a misspelt `word`, if one is close enough.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// `` `a`, `b`, `c` ``: names in a message.
pub fn quoted_list<S: AsRef<str>>(values: &[S]) -> String {
    values.iter().map(|v| format!("`{}`", v.as_ref())).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_suggestions() {
        assert!(is_valid_id("zarate-2006") && !is_valid_id("Zarate_2006") && !is_valid_id(""));
        assert_eq!(suggest("yaer", ["year", "era", "title"]), Some("year"));
        assert_eq!(suggest("completely", ["year", "era"]), None);
    }
}
