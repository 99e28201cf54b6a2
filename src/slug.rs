//! URL-safe slugs for taxonomy terms and heading ids.

/// Lowercases, keeps letters and digits, and joins the rest with single
/// hyphens: `Treatment-resistant depression` becomes `treatment-resistant-depression`.
pub fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_hyphen = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if pending_hyphen && !out.is_empty() {
                out.push('-');
            }
            pending_hyphen = false;
            out.push(c);
        } else {
            pending_hyphen = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Treatment-resistant  depression!"), "treatment-resistant-depression");
        assert_eq!(slugify("  What's new? "), "what-s-new");
        assert_eq!(slugify("Ätiologie 2"), "ätiologie-2");
        assert_eq!(slugify("--"), "");
    }
}
