//! Deterministic, UUID-shaped ids: the same seed gives the same ids in the same order.

/// splitmix64: a tiny, well-known mixer; enough to spread a counter over 64 bits.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A version-4-shaped UUID from `seed` and `n`.
pub(crate) fn uuid(seed: u64, n: u64) -> String {
    let a = mix(seed ^ n.wrapping_mul(2));
    let b = mix(a ^ n.wrapping_mul(2).wrapping_add(1));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        a & 0xfff,
        8 + (b >> 62),
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}
