//! Feeds arbitrary bytes to every IPVS decoder, both as raw attribute
//! payloads and as whole netlink messages. Any panic is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_generic::GenlMessage;

use ipvs::Family;
use ipvs::codec::{self, GenlPayload};

fuzz_target!(|data: &[u8]| {
    let cmd = data.first().copied().unwrap_or(0);
    let body = data.get(1..).unwrap_or(&[]);
    let _ = codec::decode_service(body);
    let _ = codec::decode_dest(body, Family::V4);
    let _ = codec::decode_dest(body, Family::V6);
    let _ = codec::decode_daemon(body);
    let _ = codec::decode_stats(body);
    let _ = codec::decode_service_msg(cmd, body);
    let _ = codec::decode_dest_msg(cmd, body, Family::V4);
    let _ = codec::decode_daemon_msg(cmd, body);
    let _ = codec::decode_info_msg(cmd, body);
    let _ = codec::decode_timeouts_msg(cmd, body);
    let _ = codec::decode_family_id(body);

    // a whole datagram, as the socket would deliver it
    if let Ok(m) = NetlinkMessage::<GenlMessage<GenlPayload>>::deserialize(data)
        && let NetlinkPayload::InnerMessage(g) = m.payload
    {
        let _ = codec::decode_service_msg(g.payload.cmd, &g.payload.body);
        let _ = codec::decode_dest_msg(g.payload.cmd, &g.payload.body, Family::V6);
        let _ = codec::decode_daemon_msg(g.payload.cmd, &g.payload.body);
        let _ = codec::decode_info_msg(g.payload.cmd, &g.payload.body);
        let _ = codec::decode_timeouts_msg(g.payload.cmd, &g.payload.body);
    }
});
