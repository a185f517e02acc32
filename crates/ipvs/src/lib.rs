//! The kernel IPVS table over generic netlink. Placeholder until its issue lands.
