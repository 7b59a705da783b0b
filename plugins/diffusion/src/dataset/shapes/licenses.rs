//! The licences the examples of `shapes` carry, as a fixed mix: each example draws one with
//! these probabilities, like images gathered from sources of mixed terms. Names are SPDX ids;
//! `LicenseRef-proprietary` stands for all-rights-reserved images that a model trained only on
//! openly licensed data (CommonCanvas) must leave out, and `CC-BY-NC-4.0` for images a
//! commercial model must.

use exp_plugin_api::sdk::Rng;

/// Each licence and the share of examples that carry it (the shares sum to 1).
pub const LICENSE_MIX: [(&str, f64); 4] = [
    ("CC0-1.0", 0.4),
    ("CC-BY-4.0", 0.3),
    ("CC-BY-NC-4.0", 0.2),
    ("LicenseRef-proprietary", 0.1),
];

/// The index in `LICENSE_MIX` of the licence called `name`.
pub fn license_index(name: &str) -> Option<usize> {
    LICENSE_MIX.iter().position(|(known, _)| *known == name)
}

/// The names of every licence, for messages.
pub fn known_licenses() -> String {
    LICENSE_MIX
        .iter()
        .map(|(name, _)| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One licence drawn from the mix, as its index.
pub fn draw_license(rng: &mut Rng) -> usize {
    let draw = rng.next_f64();
    let mut cumulative = 0.0;
    for (index, (_, share)) in LICENSE_MIX.iter().enumerate() {
        cumulative += share;
        if draw < cumulative {
            return index;
        }
    }
    // Only reachable if rounding leaves the cumulative sum just under 1.
    LICENSE_MIX.len() - 1
}
