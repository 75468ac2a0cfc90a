/* The snapshot format (README, "Snapshot format"): map keys shared by the
 * encoder and the decoder. */
#ifndef MCREG_SNAPSHOT_H
#define MCREG_SNAPSHOT_H

/* RFC 8949 section 3.4.6: self-described CBOR. */
#define MCREG_CBOR_SELF_DESCRIBE 55799u

/* Keys of the top-level map. */
enum {
    SNAP_VERSION = 0, /* [major, minor]; always the first key */
    SNAP_RECORDS = 1,
    SNAP_LIMITS = 2
};

/* Keys of a record map. */
enum {
    REC_USER = 0,
    REC_UE = 1,
    REC_REGISTERED_AT = 2,
    REC_EXPIRES_AT = 3,
    REC_CSEQ = 4,
    REC_CONTACT = 5,
    REC_CALL_ID = 6,
    REC_SETTINGS = 7
};

#endif
