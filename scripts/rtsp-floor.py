#!/usr/bin/env python3
"""The benchmark floor: receive one RTSP stream and copy its bytes to a file.

    scripts/rtsp-floor.py URL OUTPUT --seconds N

OPTIONS, DESCRIBE, SETUP (RTP over the RTSP connection, interleaved=0-1) of
the first video track, PLAY; then every byte after the PLAY response goes
to OUTPUT unparsed (interleaved headers, RTP headers, RTCP and all): the
process execs `dd bs=1M`, which does one read(2) and one write(2) per
wakeup, and is ended by SIGALRM after N seconds (whole seconds). No authentication: it is meant
for `hotspare sim-camera`. This is what recording costs when it does
nothing but move bytes from a socket to a file.
"""
import argparse, os, signal, socket, sys
from urllib.parse import urlsplit, urljoin


def request(sock, buf, method, url, cseq, extra=""):
    sock.sendall(f"{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\nUser-Agent: rtsp-floor\r\n{extra}\r\n".encode())
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit(f"rtsp-floor: connection closed during {method}")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit(f"rtsp-floor: connection closed during {method}")
        rest += chunk
    body, leftover = rest[:n], rest[n:]
    buf[:] = leftover
    if status != 200:
        sys.exit(f"rtsp-floor: {method} {url}: status {status}")
    return headers, body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("output")
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--buffer", type=int, default=1 << 20)
    a = ap.parse_args()
    u = urlsplit(a.url)
    sock = socket.create_connection((u.hostname, u.port or 554))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    buf = bytearray()
    request(sock, buf, "OPTIONS", a.url, 1)
    h, sdp = request(sock, buf, "DESCRIBE", a.url, 2, "Accept: application/sdp\r\n")
    base = h.get("content-base", a.url)
    if not base.endswith("/"):
        base += "/"
    control, in_video = None, False
    for line in sdp.decode("latin-1").splitlines():
        if line.startswith("m="):
            if in_video:
                break
            in_video = line.startswith("m=video")
        elif in_video and line.startswith("a=control:"):
            control = line[len("a=control:"):].strip()
    track = a.url if control in (None, "*") else (control if "://" in control else urljoin(base, control))
    h, _ = request(sock, buf, "SETUP", track, 3, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n")
    session = h.get("session", "").split(";")[0]
    request(sock, buf, "PLAY", a.url, 4, f"Session: {session}\r\nRange: npt=0.000-\r\n")

    # Hand the socket to dd: one read(2) and one write(2) per wakeup, with
    # no interpreter in the loop. SIGALRM (kept across exec) ends it.
    with open(a.output, "wb") as out:
        out.write(buf)
    os.dup2(sock.fileno(), 0)
    # CPU spent so far (interpreter start-up, handshake), for the benchmark
    # to subtract: the floor is the copy, not Python.
    t = os.times()
    with open(a.output + ".setup-cpu", "w") as f:
        f.write(f"{t.user + t.system:.6f}\n")
    signal.alarm(max(1, round(a.seconds)))
    os.execvp("dd", ["dd", f"of={a.output}", "oflag=append", "conv=notrunc", f"bs={a.buffer}", "status=none"])


main()
