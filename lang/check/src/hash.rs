//! The hash maps and sets of the checker. A large sweep expands into thousands of definitions
//! whose names are looked up over and over; std's SipHash was a tenth of the language
//! server's time on `experiments/continual_digits.exp`. foldhash is several times faster on
//! short strings and still seeded at random per map (minimally DoS-resistant, as its authors
//! put it), so a file cannot be written to collide on every machine.

pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
