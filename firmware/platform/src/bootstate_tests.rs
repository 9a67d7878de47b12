//! Unit tests of the boot-counting state: format, verification, choice, next states.

use super::*;

/// The bytes U-Boot's boot.cmd wrote on its first boot in QEMU (defaults, A decremented).
const FROM_UBOOT: &[u8] = b"BS_CRC=e4aa9fd6\nBOOT_A_LEFT=2\nBOOT_B_LEFT=3\nBOOT_ORDER=A B\nBS_SEQ=1\n";

#[test]
fn reads_what_uboot_wrote_and_writes_the_same_bytes() {
    let s = BootState::parse(FROM_UBOOT).unwrap();
    assert_eq!(s, BootState { order: vec![Slot::A, Slot::B], a_left: 2, b_left: 3, seq: 1 });
    assert_eq!(s.serialize(), FROM_UBOOT);
}

#[test]
fn hex_numbers_round_trip() {
    let s = BootState { order: vec![Slot::B], a_left: 0, b_left: 11, seq: 0x1f };
    let bytes = s.serialize();
    assert!(String::from_utf8_lossy(&bytes).contains("BS_SEQ=1f\n"));
    assert_eq!(BootState::parse(&bytes).unwrap(), s);
}

#[test]
fn a_flipped_byte_or_a_torn_write_fails_the_checksum() {
    let mut flipped = FROM_UBOOT.to_vec();
    flipped[28] = b'3';
    assert!(matches!(BootState::parse(&flipped), Err(FormatError::BadCrc { .. })));
    for cut in 0..FROM_UBOOT.len() {
        assert!(BootState::parse(&FROM_UBOOT[..cut]).is_err(), "cut at {cut} accepted");
    }
    assert_eq!(BootState::parse(&[0u8; 64]), Err(FormatError::BadHeader));
}

#[test]
fn bad_values_are_named() {
    let body = "BOOT_A_LEFT=3\nBOOT_B_LEFT=3\nBOOT_ORDER=A A\nBS_SEQ=1\n";
    let bytes = [format!("BS_CRC={:08x}\n", crc32(body.as_bytes())).as_bytes(), body.as_bytes()].concat();
    let e = BootState::parse(&bytes).unwrap_err();
    assert_eq!(e.to_string(), "BOOT_ORDER=A A is not valid");
    let body = "BOOT_A_LEFT=3\nBOOT_ORDER=A B\nBS_SEQ=1\nOTHER=x\n";
    let bytes = [format!("BS_CRC={:08x}\n", crc32(body.as_bytes())).as_bytes(), body.as_bytes()].concat();
    assert_eq!(BootState::parse(&bytes), Err(FormatError::Missing("BOOT_B_LEFT")));
    let body = "BOOT_A_LEFT=100\nBOOT_B_LEFT=3\nBOOT_ORDER=A B\nBS_SEQ=1\n";
    let bytes = [format!("BS_CRC={:08x}\n", crc32(body.as_bytes())).as_bytes(), body.as_bytes()].concat();
    assert!(matches!(BootState::parse(&bytes), Err(FormatError::BadValue { key: "BOOT_A_LEFT", .. })));
}

fn st(seq: u64, a: u8) -> BootState {
    BootState { seq, a_left: a, ..BootState::default() }
}

#[test]
fn the_newest_valid_copy_wins_and_the_other_is_written_next() {
    let c = choose(&[Copy::Valid(st(4, 1)), Copy::Valid(st(5, 2))]);
    assert_eq!((c.from, c.write_to, c.state.a_left), (Some(1), 0, 2));
    let c = choose(&[Copy::Valid(st(4, 1)), Copy::Invalid("bad crc".into())]);
    assert_eq!((c.from, c.write_to), (Some(0), 1));
    let c = choose(&[Copy::Missing, Copy::Valid(st(9, 0))]);
    assert_eq!((c.from, c.write_to), (Some(1), 0));
    // A tie goes to copy 0, as in the script (strictly greater replaces).
    let c = choose(&[Copy::Valid(st(3, 1)), Copy::Valid(st(3, 2))]);
    assert_eq!((c.from, c.write_to, c.state.a_left), (Some(0), 1, 1));
    let c = choose(&[Copy::Missing, Copy::Invalid("x".into())]);
    assert_eq!((c.from, c.write_to, c.state.clone()), (None, 0, BootState::default()));
    assert_eq!(c.successor(&c.state).seq, 1);
}

#[test]
fn the_script_rule_counts_down_a_then_b_then_resets() {
    let mut s = BootState::default();
    let mut booted = Vec::new();
    for _ in 0..8 {
        let (slot, next) = s.boot_attempt();
        booted.push(slot.map(|x| format!("{x}{}", next.left(x))).unwrap_or_else(|| "-".into()));
        s = next;
    }
    assert_eq!(booted, ["A2", "A1", "A0", "B2", "B1", "B0", "-", "A2"]);
}

#[test]
fn mark_good_and_set_primary() {
    let s = BootState { a_left: 1, ..BootState::default() };
    assert_eq!(s.mark_good(Slot::A).a_left, DEFAULT_TRIES);
    let p = s.set_primary(Slot::B);
    assert_eq!((p.order.clone(), p.b_left, p.primary()), (vec![Slot::B, Slot::A], DEFAULT_TRIES, Some(Slot::B)));
    let bad = s.mark_bad(Slot::A);
    assert!(!bad.is_good(Slot::A) && bad.is_good(Slot::B));
    assert_eq!(bad.primary(), Some(Slot::B));
    let only_b = BootState { order: vec![Slot::B], ..BootState::default() };
    assert!(!only_b.is_good(Slot::A));
    assert_eq!(only_b.mark_good(Slot::A).order, vec![Slot::B, Slot::A]);
}
