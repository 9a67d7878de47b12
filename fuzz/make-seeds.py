#!/usr/bin/env python3
"""Writes small seed inputs for the fuzz targets into fuzz/seeds/<target>/.

Built from the fixtures' real NAL units (fixtures/clip-h264.h264,
clip-h265.h265), cut short so all seeds stay well under 100 KB. The `index`
seeds are real index files from a short `hotspare record` run, copied in by
hand (see fuzz/README.md); this script does not touch them.
"""
import base64, os, struct, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = os.path.join(ROOT, "fuzz", "seeds")


def nals(path):
    data = open(path, "rb").read()
    out, i, starts = [], 0, []
    while True:
        j = data.find(b"\x00\x00\x01", i)
        if j < 0:
            break
        starts.append(j + 3)
        i = j + 3
    for k, s in enumerate(starts):
        e = starts[k + 1] - 3 if k + 1 < len(starts) else len(data)
        n = data[s:e]
        while n.endswith(b"\x00"):
            n = n[:-1]
        out.append(n)
    return out


def h264_type(n):
    return n[0] & 0x1F


def h265_type(n):
    return (n[0] >> 1) & 0x3F


def write(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def rtp(seq, ts, marker, payload, pt=96):
    return struct.pack(">BBHII", 0x80, pt | (0x80 if marker else 0), seq & 0xFFFF, ts, 0x12345678) + payload


def fu_a(nal, chunk):
    out, body = [], nal[1:]
    parts = [body[i:i + chunk] for i in range(0, len(body), chunk)]
    for i, c in enumerate(parts):
        fu = (nal[0] & 0x1F) | (0x80 if i == 0 else 0) | (0x40 if i == len(parts) - 1 else 0)
        out.append(bytes([(nal[0] & 0xE0) | 28, fu]) + c)
    return out


def fu_h265(nal, chunk):
    out, body = [], nal[2:]
    parts = [body[i:i + chunk] for i in range(0, len(body), chunk)]
    t = h265_type(nal)
    for i, c in enumerate(parts):
        fu = t | (0x80 if i == 0 else 0) | (0x40 if i == len(parts) - 1 else 0)
        out.append(bytes([(nal[0] & 0x81) | (49 << 1), nal[1], fu]) + c)
    return out


def agg(prefix, ns):
    return prefix + b"".join(struct.pack(">H", len(n)) + n for n in ns)


def stream(packets, clear_every=0, flags=0):
    """Depacketize-target input: flags (fix-up off, default policy), [u16 control][packet]..."""
    out = bytearray([flags])
    for i, p in enumerate(packets):
        ctl = len(p) & 0x7FF
        if clear_every and i % clear_every == clear_every - 1:
            ctl |= 0x8000
        out += struct.pack(">H", ctl) + p
    return bytes(out)


def import_input(h265, frames, params, start_us=1_700_000_000_000_000):
    """import_validate structured input: frames = [(nals, pts, key)], params = (sps, pps, vps)."""
    out = bytearray([3 if h265 else 1, len(frames)])
    sample = bytearray()
    for nal_list, pts, key in frames:
        data = b"".join(struct.pack(">I", len(n)) + n for n in nal_list)
        sample += data
        out += struct.pack("<IiB", len(data), pts, key)
    out += struct.pack("<q", start_us)
    for p in params:
        out += bytes([len(p)]) + p
    return bytes(out + sample)


def main():
    h4 = nals(os.path.join(ROOT, "fixtures", "clip-h264.h264"))
    h5 = nals(os.path.join(ROOT, "fixtures", "clip-h265.h265"))
    sps4 = next(n for n in h4 if h264_type(n) == 7)
    pps4 = next(n for n in h4 if h264_type(n) == 8)
    idr4 = next(n for n in h4 if h264_type(n) == 5)[:1500]
    p4 = [n for n in h4 if h264_type(n) == 1][0][:300]
    vps5 = next(n for n in h5 if h265_type(n) == 32)
    sps5 = next(n for n in h5 if h265_type(n) == 33)
    pps5 = next(n for n in h5 if h265_type(n) == 34)
    idr5 = next(n for n in h5 if h265_type(n) in (19, 20))[:1500]
    p5 = [n for n in h5 if h265_type(n) == 1][0][:300]

    # sps
    write("sps", "h264-sps", sps4)
    write("sps", "h265-sps", sps5)
    write("sps", "h264-pps", pps4)

    # depacketize: packets as a camera would send them.
    pk4, seq, ts = [], 1000, 90000
    pk4.append(rtp(seq, ts, False, agg(b"\x18", [sps4, pps4]))); seq += 1
    for i, f in enumerate(fu_a(idr4, 500)):
        pk4.append(rtp(seq, ts, i == 2, f)); seq += 1
    ts += 3600
    pk4.append(rtp(seq, ts, True, p4)); seq += 1
    ts += 3600
    pk4.append(rtp(seq, ts, False, sps4)); seq += 1
    pk4.append(rtp(seq, ts, False, pps4)); seq += 1
    pk4.append(rtp(seq, ts, True, idr4[:400])); seq += 1
    write("depacketize", "h264-stap-fu-single", stream(pk4))
    write("depacketize", "h264-clear-rebase", stream(pk4, clear_every=2))
    pk5, seq, ts = [], 2000, 90000
    pk5.append(rtp(seq, ts, False, agg(b"\x60\x01", [vps5, sps5, pps5]))); seq += 1
    for i, f in enumerate(fu_h265(idr5, 500)):
        pk5.append(rtp(seq, ts, i == 2, f)); seq += 1
    ts += 3600
    pk5.append(rtp(seq, ts, True, p5)); seq += 1
    write("depacketize", "h265-ap-fu-single", stream(pk5))
    write("depacketize", "h265-clear-rebase", stream(pk5, clear_every=2))
    # Camera quirks: a key frame as one FU-A labelled SPS holding SPS, PPS and
    # IDR with start codes; single-fragment FUs; a stale session's packets.
    pkq, seq, ts = [], 3000, 90000
    for i, f in enumerate(fu_a(sps4 + b"\x00\x00\x00\x01" + pps4 + b"\x00\x00\x01" + idr4[:600], 300)):
        pkq.append(rtp(seq, ts, False, f)); seq += 1
    pkq[-1] = pkq[-1][:1] + bytes([pkq[-1][1] | 0x80]) + pkq[-1][2:]
    ts += 3600
    for n in (sps4, pps4):
        pkq.append(rtp(seq, ts, False, bytes([(n[0] & 0xE0) | 28, 0xC0 | (n[0] & 0x1F)]) + n[1:])); seq += 1
    pkq.append(rtp(seq, ts, True, idr4[:300])); seq += 1
    write("depacketize", "h264-start-codes-single-fu", stream(pkq))
    stale = [struct.pack(">BBHII", 0x80, 0xE0, (50000 + i) & 0xFFFF, 7_000_000 + i * 999, 0x0BADF00D) + p4[:40]
             for i in range(len(pk4))]
    mixed = [p for pair in zip(pk4, stale) for p in pair]
    write("depacketize", "h264-stale-ssrc", stream(mixed, flags=0x10))

    # rtp: single packets and an RTCP compound (SR + SDES).
    for i, p in enumerate(pk4[:3] + pk5[:2]):
        write("rtp", f"pkt{i}", p)
    sr = struct.pack(">BBHIQIII", 0x80, 200, 6, 0x12345678, 0xE1234567_89ABCDEF, 90000, 10, 5000)
    sdes = struct.pack(">BBHI", 0x81, 202, 2, 0x12345678) + b"\x01\x02hi\x00\x00"
    write("rtp", "rtcp-sr-sdes", sr + sdes)
    write("rtp", "csrc-ext-pad", bytes([0xB1, 0xE0, 0x12, 0x34, 0, 0, 0x10, 0, 1, 2, 3, 4, 9, 9, 9, 9,
                                        0xBE, 0xDE, 0, 1, 7, 7, 7, 7, 0x65, 0xAA, 0, 2]))
    write("rtp", "interleaved", b"$\x00\x00\x10" + pk4[-1][:16])

    # sdp: what cameras and the simulator announce.
    b64 = lambda n: base64.b64encode(n).decode()
    sdp4 = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam0\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=control:*\r\n"
            "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
            f"a=fmtp:96 packetization-mode=1;profile-level-id=4d0028;sprop-parameter-sets={b64(sps4)},{b64(pps4)}\r\n"
            "a=control:trackID=0\r\nm=audio 0 RTP/AVP 0\r\na=control:trackID=1\r\n")
    sdp5 = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam0\r\nt=0 0\r\n"
            "m=video 0 RTP/AVP 97\r\na=rtpmap:97 H265/90000\r\n"
            f"a=fmtp:97 sprop-vps={b64(vps5)}; sprop-sps={b64(sps5)}; sprop-pps={b64(pps5)}\r\n"
            "a=control:rtsp://127.0.0.1:8554/cam0/track1\r\n")
    # First byte: the policy (bit 0: Strict).
    write("sdp", "h264-audio", b"\x00" + sdp4.encode())
    write("sdp", "h265", b"\x00" + sdp5.encode())
    write("sdp", "sloppy", b"\x00s=cam\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\n")
    trunc = ("v=0\r\no=- 1001 1 IN \r\ns=Media Presentation\r\nc=IN \r\nt=0 0\r\n"
             "m=video 0 RTP/AVP 96\r\nc=IN IP4\r\na=rtpmap:96 H264/90000\r\na=control:trackID=1\r\n"
             "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/16000/1\r\n"
             "a=fmtp:97 streamtype=5;mode=AAC-hbr;config=1408;sizelength=13;indexlength=3;indexdeltalength=3\r\n"
             "a=control:trackID=2\r\nm=audio 0 RTP/AVP 8\r\na=control:trackID=3\r\n")
    write("sdp", "truncated-lines-aac", b"\x00" + trunc.encode())
    write("sdp", "truncated-lines-strict", b"\x01" + trunc.encode())
    cams = os.path.join(ROOT, "firmware", "media", "testdata", "sdp")
    for name in sorted(os.listdir(cams)):
        write("sdp", "camera-" + name.removesuffix(".sdp"), b"\x00" + open(os.path.join(cams, name), "rb").read())

    # audio_depacketize: flags (bits 0-1 framing, bit 2 fix-up), [u16 control][packet]...
    def aac_hbr(aus, size=None):
        hdr = b"".join(struct.pack(">H", (size or len(a)) << 3) for a in aus)
        return struct.pack(">H", 16 * len(aus)) + hdr + b"".join(aus)
    aus = [bytes((i * 7 + k) & 0xFF for k in range(40 + 13 * i)) for i in range(6)]
    pka, seq, ts = [], 100, 16000
    pka.append(rtp(seq, ts, True, aac_hbr(aus[:3]), pt=97)); seq += 1; ts += 3 * 1024
    big = bytes(range(256)) * 3
    for i in range(0, len(big), 300):
        pka.append(rtp(seq, ts, i + 300 >= len(big), aac_hbr([big[i:i + 300]], size=len(big)), pt=97)); seq += 1
    ts += 1024
    pka.append(rtp(seq, ts, True, aac_hbr(aus[3:]), pt=97)); seq += 1
    write("audio_depacketize", "aac-hbr-aggregated-fragmented", stream(pka, flags=2))
    write("audio_depacketize", "aac-hbr-clear", stream(pka, clear_every=2, flags=2))
    pkg = [rtp(500 + i, 8000 + 160 * i, False, bytes((i + k) & 0xFF for k in range(160)), pt=97) for i in range(6)]
    write("audio_depacketize", "g711-mono", stream(pkg, flags=0))
    write("audio_depacketize", "g711-stereo-tiny-limits", stream(pkg, flags=1 | 0x20))

    # rtsp: messages in the media stream, authentication challenges.
    write("rtsp", "response", b"RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: 1234;timeout=60\r\n\r\n$\x00\x00\x0c")
    write("rtsp", "request", b"GET_PARAMETER rtsp://127.0.0.1/cam0 RTSP/1.0\r\nCSeq: 7\r\nContent-Length: 4\r\n\r\nabcd")
    write("rtsp", "digest", b'Digest realm="IP Camera(12345)", nonce="0a1b2c3d", stale="FALSE", qop="auth", opaque="x", algorithm=MD5')
    write("rtsp", "basic", b'Basic realm="cam, inc"\nDigest realm="a", nonce="n"')
    write("rtsp", "partial", b"RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Digest realm=")

    # import_validate: valid segments (structured form) and a raw index with no sample.
    sei = b"\x06\x05\x01\x00\x80"
    write("import_validate", "h264-3-frames", import_input(False, [([sps4, pps4, idr4[:200]], 0, 1),
          ([p4[:100]], 3600, 0), ([sei, p4[:50]], 7200, 0)], (sps4, pps4, b"")))
    write("import_validate", "h265-2-frames", import_input(True, [([vps5, sps5, pps5, idr5[:200]], 0, 1),
          ([p5[:100]], 3000, 0)], (sps5, pps5, vps5)))
    raw = open(os.path.join(SEEDS, "index", "h264-4s.index"), "rb").read()
    write("import_validate", "raw-index", bytes([0]) + struct.pack("<H", len(raw)) + raw)

    # import_validate, audio form (byte 0 bit 2): G.711 and AAC parts, structured.
    def audio_input(codec, rate, config, frames, data_len):
        b = bytes([5, codec]) + struct.pack("<I", rate) + bytes([1, len(config)]) + config + bytes([len(frames)])
        for ln, pts, dur in frames:
            b += struct.pack("<HiH", ln, pts, dur)
        return b + struct.pack("<qI", 1_700_000_000_000_000, data_len)
    write("import_validate", "audio-pcma", audio_input(1, 8000, b"", [(160, k * 160, 160) for k in range(3)], 480))
    write("import_validate", "audio-aac", audio_input(0, 16000, b"\x14\x08", [(100, k * 1024, 1024) for k in range(2)], 200))

    # smart: [checksum flag][ATA block 1][ATA block 2 / NVMe log][sense], from the recorded
    # blocks of firmware/platform/testdata/smart (written by its gen.py).
    def smart_block(name):
        text = open(os.path.join(ROOT, "firmware", "platform", "testdata", "smart", name)).read()
        return bytes(int(h, 16) for l in text.splitlines() if ":" in l for h in l.split(":", 1)[1].split())
    # Descriptor-format sense of SMART RETURN STATUS: ATA Return descriptor, LBA mid/high 4f c2.
    sense_ok = bytes([0x72, 1, 0, 0x1d, 0, 0, 0, 14, 9, 12, 0, 0, 0, 0, 0, 0, 0, 0x4f, 0, 0xc2, 0, 0x50])
    sense_bad = bytes([0x72, 1, 0, 0x1d, 0, 0, 0, 14, 9, 12, 0, 0, 0, 0, 0, 0, 0, 0xf4, 0, 0x2c, 0, 0x50])
    thr = smart_block("ata-thresholds.hex")
    write("smart", "ata-healthy", b"\x00" + smart_block("ata-data-healthy.hex") + thr + sense_ok)
    write("smart", "ata-failing", b"\x00" + smart_block("ata-data-failing.hex") + thr + sense_bad)
    write("smart", "ata-logs", b"\x00" + smart_block("ata-errorlog-3.hex") + smart_block("ata-selftest-failed.hex"))
    write("smart", "nvme-worn", b"\x00" + smart_block("ata-identify.hex") + smart_block("nvme-worn.hex"))

    # bootstate: [u16 le len of copy 0][copy 0][copy 1]; a copy starting with `!` gets its
    # BS_CRC header from the target. The first is what U-Boot's boot.cmd wrote in QEMU.
    def bootstate(c0, c1):
        return struct.pack("<H", len(c0)) + c0 + c1
    uboot = b"BS_CRC=e4aa9fd6\nBOOT_A_LEFT=2\nBOOT_B_LEFT=3\nBOOT_ORDER=A B\nBS_SEQ=1\n"
    write("bootstate", "uboot-one-copy", bootstate(uboot, b""))
    write("bootstate", "two-copies", bootstate(uboot, b"!BOOT_A_LEFT=3\nBOOT_B_LEFT=0\nBOOT_ORDER=B A\nBS_SEQ=ff\n"))
    write("bootstate", "torn-newer", bootstate(uboot, b"BS_CRC=00000000\nBOOT_A_LEFT=3\nBOOT_B"))
    write("bootstate", "odd-body", bootstate(b"!BOOT_ORDER=A\nX=1\nBS_SEQ=0x10\nBOOT_A_LEFT=0\nBOOT_B_LEFT=0\n", b"!BOOT_ORDER=A A\n"))

    # kernel_text: [parser][text], from the kernel's own forms (platform testdata and notes).
    write("kernel_text", "mountinfo", b"\x00" + b"22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
          b"41 22 9:0 / /var/lib/hotspare/recordings rw - ext4 /dev/md0 rw,errors=remount-ro\n"
          b"42 22 0:5 / /mnt/with\\040space ro - tmpfs none ro\n")
    write("kernel_text", "mdstat-degraded", b"\x01" + b"Personalities : [raid1]\n"
          b"md0 : active raid1 sdb[1](F) sda[0]\n      2094080 blocks super 1.2 [2/1] [U_]\n\nunused devices: <none>\n")
    write("kernel_text", "sync-completed", b"\x02" + b"1048576 / 4188160\n")
    write("kernel_text", "meminfo", b"\x03" + b"MemTotal:  512000 kB\nMemFree: 1000 kB\nMemAvailable:  256000 kB\n")
    write("kernel_text", "uevent", b"\x04" + b"add@/devices/pci0000:00/ata1/host0/target0:0:0/0:0:0:0/block/sda\0"
          b"ACTION=add\0SUBSYSTEM=block\0DEVTYPE=disk\0DEVNAME=sda\0")
    write("kernel_text", "glob", b"\x05" + b"/devices/*/ata1/*\0/devices/pci0000:00/ata1/host0/block/sda")

    write("lcdproc", "session", b"connect LCDproc 0.5.9 protocol 0.4 lcd wid 20 hgt 4 cellwid 5 cellhgt 8\n"
          b"success\nlisten status\nkey Enter\nignore status\nhuh? Invalid command \"x\"\nbye\n")
    write("lcdproc", "odd", b"connect wid 0 hgt 99999\nkey\n\r\nmenuevent select a\n\"\\\xc3\xa9\x00\n")

    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(SEEDS) for f in fs)
    print(f"seeds: {total} bytes", file=sys.stderr)


main()
