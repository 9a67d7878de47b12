//! How to talk to one camera: the transport, whether its audio is recorded,
//! and how each known camera quirk is tolerated.
//!
//! Every tolerance the recorder has for cameras that break the RFCs is a
//! named option here, with a default that records every camera we have
//! captures of (see `docs/ref/camera-policy.md`). The options are set per
//! camera in `nvr.toml` (`[camera.policy]`) and carried in the takeover
//! settings, so a spare records a camera the way its NVR does. This crate
//! is vocabulary only (layer 0): the RTSP client, the depacketizer and the
//! recorder act on it.

use serde::{Deserialize, Serialize};

/// Everything the recorder may do differently for one camera.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CameraPolicy {
    /// How RTP reaches us.
    pub transport: Transport,
    /// Whether the camera's audio track is recorded beside the video.
    pub audio: Audio,
    /// Which wall clock frames get.
    pub wall_clock: WallClockSource,
    /// Truncated or missing session-level SDP lines.
    pub sdp_session_lines: SdpSessionLines,
    /// A `Content-Base` / `Content-Location` without a scheme.
    pub content_base: ContentBase,
    /// Annex B start codes inside an RTP-packetized NAL unit.
    pub start_codes_in_nal: StartCodesInNal,
    /// A fragmentation unit with both its start and end bits set.
    pub single_fragment_fu: SingleFragmentFu,
    /// RTP packets of an SSRC other than our stream's.
    pub unknown_ssrc: UnknownSsrc,
    /// Interleaved data on a channel no track was set up on.
    pub unassigned_channel: UnassignedChannel,
}

/// How RTP reaches us.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// RTP interleaved in the RTSP TCP connection (`RTP/AVP/TCP`). The
    /// default: works through every firewall and loses nothing on the LAN.
    #[default]
    Tcp,
    /// RTP over UDP unicast (`RTP/AVP;unicast;client_port=…`), RTCP receiver
    /// reports sent; no fallback.
    Udp,
    /// UDP first; when no RTP arrives over UDP within a few seconds of PLAY,
    /// the session is set up again over TCP.
    UdpThenTcp,
}

/// Whether the camera's audio track is recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Audio {
    /// Record an AAC or G.711 track when the camera offers one; a broken or
    /// unsupported audio track never stops the video.
    #[default]
    Record,
    /// Video only.
    Ignore,
}

/// Which wall clock frames get.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WallClockSource {
    /// RTCP sender reports when the camera's clock is within 5 minutes of
    /// ours, else the arrival time of the first frame (cameras with unset
    /// clocks would otherwise land in 1970).
    #[default]
    Auto,
    /// Always the arrival time of the first frame of a session.
    Arrival,
}

/// Session-level SDP lines (`o=`, `c=`, `t=`) that are missing or have
/// fields missing (`o=- 1001 1 IN `, `c=IN `).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SdpSessionLines {
    /// Repair or drop them: only the media sections matter to a recorder.
    #[default]
    Repair,
    /// Refuse the description.
    Strict,
}

/// A `Content-Base` or `Content-Location` without a scheme (`host:554/s0/`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContentBase {
    /// Resolve it as `rtsp://` + the value, and use the request URL when
    /// even that does not parse.
    #[default]
    Repair,
    /// Refuse the description.
    Strict,
}

/// Annex B start codes (`00 00 01`, `00 00 00 01`) inside one RTP-packetized
/// NAL unit: some cameras send a whole key frame (SPS, PPS, IDR) as one
/// FU-A whose header says SPS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartCodesInNal {
    /// Split the NAL unit at the start codes and take each part as a NAL
    /// unit of its own (types read from each part's header).
    #[default]
    Split,
    /// Store the NAL unit as sent.
    Keep,
}

/// A fragmentation unit (H.264 FU-A, H.265 FU) with both the start and end
/// bit set, forbidden by RFC 6184 but sent for parameter sets by some cameras.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SingleFragmentFu {
    /// Take it as a whole NAL unit.
    #[default]
    Accept,
    /// Drop it as malformed (and the frame it belongs to).
    Drop,
}

/// RTP of an SSRC other than our stream's, e.g. a stale session of the
/// camera still sending on our interleaved channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownSsrc {
    /// Our SSRC is the one announced (SETUP `Transport: ssrc=`, PLAY
    /// `RTP-Info: ssrc=`), else the first one seen; packets of any other
    /// are counted and ignored: they never move timing or count as loss.
    #[default]
    Ignore,
    /// Take every packet whatever its SSRC (cameras that change SSRC
    /// mid-session without announcing it).
    Accept,
}

/// Interleaved data on a channel no track was set up on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnassignedChannel {
    /// Count and skip it.
    #[default]
    Ignore,
    /// End the session with an error naming the channel.
    Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_is_the_default_and_values_are_kebab_case() {
        let p: CameraPolicy = toml::from_str("").expect("empty policy");
        assert_eq!(p, CameraPolicy::default());
        let p: CameraPolicy =
            toml::from_str("transport = \"udp-then-tcp\"\nsingle_fragment_fu = \"drop\"\naudio = \"ignore\"")
                .expect("policy");
        assert_eq!(p.transport, Transport::UdpThenTcp);
        assert_eq!(p.single_fragment_fu, SingleFragmentFu::Drop);
        assert_eq!(p.audio, Audio::Ignore);
    }

    #[test]
    fn unknown_option_is_refused_with_its_name() {
        let e = toml::from_str::<CameraPolicy>("transprot = \"udp\"").expect_err("typo");
        assert!(e.to_string().contains("transprot"), "{e}");
        let e = toml::from_str::<CameraPolicy>("transport = \"carrier-pigeon\"").expect_err("bad value");
        assert!(e.to_string().contains("carrier-pigeon"), "{e}");
    }
}
