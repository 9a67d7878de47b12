//! The recorded blocks of `testdata/smart/` (written by its `gen.py`).

/// One 512-byte block from its `offset: hex bytes` lines.
pub fn block(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/smart").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let bytes: Vec<u8> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .flat_map(|(_, hex)| hex.split_whitespace().map(|h| u8::from_str_radix(h, 16).unwrap()).collect::<Vec<_>>())
        .collect();
    assert_eq!(bytes.len(), 512, "{name}");
    bytes
}
