#!/usr/bin/env python3
"""Writes the recorded SMART blocks the unit tests of hotspare-platform's `smart` module
parse (`python3 gen.py` in this directory; the .hex files are committed, rerun only to
change them). Each file is one 512-byte block as `offset: 16 hex bytes` lines.

Layouts:
- ATA: ATA/ATAPI-8 ACS (ACS-2 §7.53 SMART; §A.16 summary SMART error log, log 0x01;
  §A.20 SMART self-test log, log 0x06; §7.16 IDENTIFY DEVICE). The attribute table of
  SMART READ DATA / READ THRESHOLDS is vendor-specific in ACS; this is the layout every
  vendor uses and smartmontools reads: 30 entries of 12 bytes from offset 2
  (id, flags u16, current, worst, raw 6 bytes LE, reserved / id, threshold, 10 reserved).
  Byte 511 of each block makes the sum of its bytes 0 modulo 256.
- NVMe: SMART / Health Information log page 0x02, NVMe base spec 1.4 §5.14.1.2
  (2.0: §5.16.1.3).
The attribute values are modelled on a healthy 1-year-old SATA disk; QEMU's AHCI disks
answer with the same layout (ids 1, 3, 4, 5, ... with current/worst 100).
"""


def block():
    return bytearray(512)


def checksum(b):
    b[511] = (-sum(b[:511])) & 0xFF
    return b


def write(name, b):
    assert len(b) == 512
    with open(name, "w") as f:
        for off in range(0, 512, 16):
            f.write("%04x: %s\n" % (off, " ".join("%02x" % x for x in b[off:off + 16])))


# id: (flags, current, worst, raw, threshold)
HEALTHY = {
    1: (0x000F, 100, 100, 0, 6),
    3: (0x0003, 97, 97, 0, 0),
    4: (0x0032, 100, 100, 120, 20),
    5: (0x0033, 100, 100, 0, 36),
    9: (0x0032, 90, 90, 8766, 0),
    12: (0x0032, 100, 100, 120, 20),
    190: (0x0022, 64, 55, 36, 45),
    194: (0x0022, 36, 45, 36, 0),
    197: (0x0012, 100, 100, 0, 0),
    198: (0x0010, 100, 100, 0, 0),
    199: (0x003E, 200, 200, 0, 0),
}


def data(attrs):
    b = block()
    b[0:2] = (0x0010).to_bytes(2, "little")
    for i, (aid, (flags, cur, worst, raw, _)) in enumerate(sorted(attrs.items())):
        o = 2 + 12 * i
        b[o] = aid
        b[o + 1:o + 3] = flags.to_bytes(2, "little")
        b[o + 3] = cur
        b[o + 4] = worst
        b[o + 5:o + 11] = raw.to_bytes(6, "little")
    b[362] = 0x82  # off-line data collection: completed without error
    b[363] = 0x00  # self-test execution status: last one completed without error
    return checksum(b)


def thresholds(attrs):
    b = block()
    b[0:2] = (0x0010).to_bytes(2, "little")
    for i, (aid, v) in enumerate(sorted(attrs.items())):
        b[2 + 12 * i] = aid
        b[3 + 12 * i] = v[4]
    return checksum(b)


def error_log(count):
    b = block()
    b[0] = 1  # version
    b[1] = min(count, 5) and ((count - 1) % 5) + 1  # newest error data structure
    for i in range(min(count, 5)):
        o = 2 + 90 * i
        b[o + 5] = 0x40  # error register: UNC
        b[o + 88:o + 90] = (8000 + i).to_bytes(2, "little")  # lifetime hours
    b[452:454] = count.to_bytes(2, "little")
    return checksum(b)


def self_test_log(entries):
    """entries: (subcommand, status byte, hours, failing LBA), oldest first."""
    b = block()
    b[0:2] = (1).to_bytes(2, "little")
    for i, (sub, status, hours, lba) in enumerate(entries):
        o = 2 + 24 * i
        b[o] = sub
        b[o + 1] = status
        b[o + 2:o + 4] = hours.to_bytes(2, "little")
        b[o + 5:o + 9] = lba.to_bytes(4, "little")
    b[508] = len(entries)
    return checksum(b)


def ata_string(text, words):
    s = text.ljust(2 * words).encode()
    return bytes(x for i in range(0, len(s), 2) for x in (s[i + 1], s[i]))


def identify(model, serial):
    b = block()
    b[20:40] = ata_string(serial, 10)
    b[54:94] = ata_string(model, 20)
    b[510] = 0xA5
    return checksum(b)


def nvme(warn=0, temp_k=308, spare=100, spare_thr=10, used=3, hours=12345, unsafe=7, media=0, errors=2):
    b = block()
    b[0] = warn
    b[1:3] = temp_k.to_bytes(2, "little")
    b[3], b[4], b[5] = spare, spare_thr, used
    b[32:48] = (4_000_000).to_bytes(16, "little")  # data units read
    b[48:64] = (3_000_000).to_bytes(16, "little")  # data units written
    b[112:128] = (150).to_bytes(16, "little")  # power cycles
    b[128:144] = hours.to_bytes(16, "little")
    b[144:160] = unsafe.to_bytes(16, "little")
    b[160:176] = media.to_bytes(16, "little")
    b[176:192] = errors.to_bytes(16, "little")
    return b


failing = dict(HEALTHY)
failing[5] = (0x0033, 30, 30, 1800, 36)  # pre-failure, below its threshold
failing[190] = (0x0022, 40, 40, 60, 45)  # old-age (usage), below its threshold
pending = dict(HEALTHY)
pending[5] = (0x0033, 100, 100, 16, 36)
pending[197] = (0x0012, 100, 100, 8, 0)
pending[198] = (0x0010, 100, 100, 2, 0)

write("ata-data-healthy.hex", data(HEALTHY))
write("ata-data-failing.hex", data(failing))
write("ata-data-pending.hex", data(pending))
write("ata-thresholds.hex", thresholds(HEALTHY))
write("ata-errorlog-0.hex", error_log(0))
write("ata-errorlog-3.hex", error_log(3))
write("ata-selftest-ok.hex", self_test_log([(0x02, 0x00, 8700, 0), (0x01, 0x00, 8760, 0)]))
write("ata-selftest-failed.hex",
      self_test_log([(0x02, 0x00, 8700, 0), (0x01, 0x00, 8760, 0), (0x01, 0x73, 8765, 0x12345)]))
write("ata-identify.hex", identify("QEMU HARDDISK", "QM00001"))
write("nvme-healthy.hex", nvme())
write("nvme-worn.hex", nvme(warn=0x05, spare=5, used=97, hours=40000, media=3, errors=9))
