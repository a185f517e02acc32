//! `cargo xtask demo` runs `etc/lvs.cf.demo` on the cluster of
//! `lvs_tests::cluster`: the file's addresses and devices must be the
//! cluster's.

use std::path::Path;

use lvs_tests::cluster::{self, Method};

#[test]
fn the_demo_config_fits_the_demo_cluster() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc/lvs.cf.demo");
    let c = lvscf::parse_file(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .config;
    let g = &c.global;
    let ip = |h: &Option<lvscf::Host>| h.as_ref().map(|h| h.addr.to_string());
    assert_eq!(ip(&g.primary).as_deref(), Some(cluster::DIRECTORS[0]));
    assert_eq!(ip(&g.backup).as_deref(), Some(cluster::DIRECTORS[1]));
    assert_eq!(g.network, lvscf::Network::Nat);
    let nat = g.nat_router.as_ref().expect("nat_router");
    assert_eq!(nat.host.addr.to_string(), cluster::NAT_ROUTER);
    // The cluster's directors have eth0 (public) and eth1 (real network).
    assert_eq!(nat.device, "eth1:1");
    let [v] = &c.virtuals[..] else {
        panic!("one virtual service");
    };
    let vip = v.address.as_ref().expect("VIP");
    assert_eq!(vip.host.addr.to_string(), cluster::VIP);
    assert_eq!(vip.device, "eth0:1");
    assert_eq!(v.port, cluster::PORT);
    let reals: Vec<String> = v
        .servers
        .iter()
        .map(|s| s.address.addr.to_string())
        .collect();
    let want: Vec<String> = (0..cluster::SERVERS)
        .map(|i| cluster::real_address(Method::Nat, i))
        .collect();
    assert_eq!(reals, want);
    // The demo adds its own client_monitor; the file keeps the default.
    assert_eq!(v.client_monitor, "/usr/sbin/nanny");
}
