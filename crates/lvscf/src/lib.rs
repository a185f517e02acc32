//! lvs.cf parser and model. Placeholder; filled in by the lvscf work.
