//! pre-v19.b (a53775e, 2009-11-04, v3) ↔ pre-v19.c (d55d4c8, 2009-11-11, v4): LSM
//! checkpoint/restart (Serge Hallyn).
//!
//! From the headers (high): LSM_INFO = 7 and SECURITY = 8 records, SECURITY_PTR = 16 and
//! SECURITY = 17 objects; `sec_ref` inserted in cred (@48), file (`f_secref` @40, every
//! file subtype moves +8), ipc_perms (@48) and msg_msg (@16). Those members are matched
//! by name; a new `sec_ref` of 0 means "no label", which is what an image without LSM
//! data means (high).
//!
//! Structural: the CONTAINER record is followed by the LSM name (an 11-byte BUFFER) and
//! LSM_INFO. An upgrade writes "default" and "dummy", what a kernel without an active
//! LSM writes (medium: grammar-research.md, LSM section); a downgrade removes them, and
//! drops (lossy) any other LSM name, and every label: OBJREF SECURITY, SECURITY and its
//! context STRING are removed (lossy), and the `sec_ref` members go with the struct
//! mapping.

use super::{Carry, Change, Confidence, Rewrite, Step};

/// The step.
pub static STEP: Step = Step {
    older: "a53775e",
    newer: "d55d4c8",
    changes: &[Change {
        rewrite: Rewrite::LsmContainer,
        subject: "CONTAINER: BUFFER lsm_name, LSM_INFO",
        up: Carry::Defaulted,
        down: Carry::Lossy,
        confidence: Confidence::Medium,
        why: "d55d4c8 adds the LSM name and LSM_INFO after CONTAINER; without an LSM the \
              kernel writes \"default\" and \"dummy\"; a downgrade keeps no LSM name",
    }],
    defaults: &[],
    renames: &[],
};
