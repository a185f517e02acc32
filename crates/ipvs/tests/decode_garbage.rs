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

    /// Attributes a newer kernel might add (unknown kinds, any value) do
    /// not change what a valid service or destination decodes to.
    #[test]
    fn unknown_attributes_are_skipped(
        ip in any::<[u8; 4]>(),
        port in any::<u16>(),
        weight in any::<u32>(),
        extra in prop::collection::vec((40u16..200, prop::collection::vec(any::<u8>(), 0..24)), 1..8),
    ) {
        let key = ipvs::ServiceKey::tcp(std::net::Ipv4Addr::from(ip), port);
        let svc = ipvs::Service::new(key, "wrr");
        let codec::Attr::Nest(_, mut inner) = codec::service_nest(&svc).unwrap() else {
            panic!("service_nest is a nest")
        };
        let unknown: Vec<codec::Attr> = extra
            .into_iter()
            .map(|(k, v)| codec::Attr::Bytes(k, v))
            .collect();
        inner.extend(unknown.iter().cloned());
        let got = codec::decode_service(&codec::emit_attrs(&inner)).unwrap();
        prop_assert_eq!(got.service, svc);

        let mut dest = ipvs::Dest::new(std::net::Ipv4Addr::from(ip), port, ipvs::Forward::Route);
        dest.weight = weight;
        let codec::Attr::Nest(_, mut inner) = codec::dest_nest(&dest) else {
            panic!("dest_nest is a nest")
        };
        inner.extend(unknown);
        let got = codec::decode_dest(&codec::emit_attrs(&inner), Family::V4).unwrap();
        prop_assert_eq!(got.dest, dest);
    }
}
