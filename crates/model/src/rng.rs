//! Named random streams. One seed fixes everything, and each consumer draws
//! from its own stream, so adding a parameter or a metric never shifts the
//! numbers another consumer sees: two runs from one seed share every weight
//! they have in common, whatever extra gate weights one of them has.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The generator behind every stream: ChaCha8, which gives the same numbers on
/// every platform, wasm32 included.
pub type StreamRng = ChaCha8Rng;

/// Opens the stream `name` of `seed`: ChaCha8 keyed by the seed, with the
/// 64-bit FNV-1a hash of the name as its stream number.
pub fn stream(seed: u64, name: &str) -> StreamRng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(fnv1a(name.as_bytes()));
    rng
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= b as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_differ_by_name_and_seed() {
        let a: u64 = stream(0, "tok_emb").random();
        let b: u64 = stream(0, "pos_emb").random();
        let c: u64 = stream(1, "tok_emb").random();
        let a2: u64 = stream(0, "tok_emb").random();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, a2);
    }
}
