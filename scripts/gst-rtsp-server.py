#!/usr/bin/python3
"""Reference RTSP camera built on GStreamer's gst-rtsp-server, used as a
second, independent peer in interoperability tests of the recorder.

Serves rtsp://127.0.0.1:PORT/cam0: videotestsrc (live, 25 fps, 640x360)
encoded with x264enc or x265enc (one keyframe a second), optionally with an
audio test tone (G.711 u-law or A-law at 8 kHz, or AAC at 16 kHz through
voaacenc + rtpmp4gpay, RFC 3640 AAC-hbr), optionally behind Digest
authentication. Every client
gets its own pipeline (the factory is not shared), so --frames counts per
client. Prints "READY <port>" on stdout once serving; exits on SIGTERM/SIGINT.

Run with Debian's /usr/bin/python3 (needs python3-gi, gir1.2-gst-rtsp-server-1.0
and the GStreamer plugins base/good/bad/ugly).
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

MOUNT = "/cam0"


def audio_branch(audio: str, frames: int) -> str:
    """The audio half of the pipeline, payloader pay1; '' for none."""
    if audio == "none":
        return ""
    # 40 ms buffers, so that the tone ends with the video.
    rate = 16000 if audio == "aac" else 8000
    anum = f" num-buffers={frames}" if frames > 0 else ""
    src = (
        f" audiotestsrc is-live=true wave=sine freq=400 samplesperbuffer={rate // 25}{anum} ! "
        f"audio/x-raw,rate={rate},channels=1 ! "
    )
    enc = {
        "pcmu": "mulawenc ! rtppcmupay name=pay1 pt=0",
        "pcma": "alawenc ! rtppcmapay name=pay1 pt=8",
        "aac": "audioconvert ! voaacenc bitrate=32000 ! rtpmp4gpay name=pay1 pt=97",
    }[audio]
    return src + enc


def pipeline(codec: str, frames: int, audio: str) -> str:
    num = f" num-buffers={frames}" if frames > 0 else ""
    video = (
        f"videotestsrc is-live=true{num} ! video/x-raw,width=640,height=360,framerate=25/1,format=I420 ! "
    )
    if codec == "h264":
        video += (
            "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bframes=0 threads=1 ! "
            "video/x-h264,profile=constrained-baseline ! rtph264pay name=pay0 pt=96 config-interval=-1"
        )
    else:
        video += (
            "x265enc tune=zerolatency speed-preset=ultrafast key-int-max=25 "
            'option-string="bframes=0:repeat-headers=1:pools=1:frame-threads=1" ! '
            "rtph265pay name=pay0 pt=96 config-interval=-1"
        )
    video += audio_branch(audio, frames)
    return f"( {video} )"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8554, help="TCP port (0: pick a free one)")
    ap.add_argument("--codec", choices=["h264", "h265"], default="h264")
    ap.add_argument("--frames", type=int, default=0, help="video frames per client, then EOS (0: endless)")
    ap.add_argument(
        "--audio",
        nargs="?",
        const="pcmu",
        default="none",
        choices=["none", "pcmu", "pcma", "aac"],
        help="add an audio track (bare --audio: pcmu)",
    )
    ap.add_argument("--user")
    ap.add_argument("--password")
    args = ap.parse_args()
    if (args.user is None) != (args.password is None):
        ap.error("--user and --password go together")

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(pipeline(args.codec, args.frames, args.audio))
    factory.set_shared(False)

    if args.user is not None:
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_digest(args.user, args.password, token)
        server.set_auth(auth)
        perms = GstRtspServer.RTSPPermissions()
        perms.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
        perms.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
        factory.set_permissions(perms)

    server.get_mount_points().add_factory(MOUNT, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on port {args.port}", file=sys.stderr)
        return 1

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
