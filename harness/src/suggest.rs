//! "Did you mean": the nearest valid name for a misspelt one, for every
//! place that takes a name (scenario keys and values, bug names on the
//! command line). A leaf: it imports nothing from the crate.

/// The candidate nearest to `word`, when it is near enough to be a typo.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_lower = word.to_ascii_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let distance = strsim::damerau_levenshtein(&word_lower, &candidate.to_ascii_lowercase());
        let similarity = strsim::jaro_winkler(&word_lower, &candidate.to_ascii_lowercase());
        let close = distance <= (candidate.len() / 3).max(2) || similarity >= 0.85;
        if close && best.is_none_or(|(score, _)| similarity > score) {
            best = Some((similarity, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}
