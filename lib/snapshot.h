/* The snapshot format (README, "Snapshot format"): map keys shared by the
 * encoder and the decoder. */
#ifndef MCREG_SNAPSHOT_H
#define MCREG_SNAPSHOT_H

/* RFC 8949 section 3.4.6: self-described CBOR. */
#define MCREG_SNAPSHOT_SELF_DESCRIBE 55799u

/* Keys of the top-level map. */
enum {
    MCREG_SNAPSHOT_KEY_VERSION = 0, /* [major, minor]; always the first key */
    MCREG_SNAPSHOT_KEY_RECORDS = 1,
    MCREG_SNAPSHOT_KEY_LIMITS = 2,
    /* 1.1, a registry with a node id (3, 4 and 24 stay free: the tests use
     * them as a later minor version's unknown keys). The checksum is the
     * last key, and required once any of 16-18 is there. */
    MCREG_SNAPSHOT_KEY_TOMBSTONES = 16,    /* [* [user, ue, version, logon]] */
    MCREG_SNAPSHOT_KEY_UE_PUTS = 17,       /* [* [ue, version]] */
    MCREG_SNAPSHOT_KEY_LIMIT_ENTRIES = 18, /* [* [user, version, max / null]] */
    MCREG_SNAPSHOT_KEY_CRC = 19            /* h'crc32c', over every byte before it */
};

/* Keys of a record map. */
enum {
    MCREG_SNAPSHOT_REC_USER = 0,
    MCREG_SNAPSHOT_REC_UE = 1,
    MCREG_SNAPSHOT_REC_REGISTERED_AT = 2,
    MCREG_SNAPSHOT_REC_EXPIRES_AT = 3,
    MCREG_SNAPSHOT_REC_CSEQ = 4,
    MCREG_SNAPSHOT_REC_CONTACT = 5,
    MCREG_SNAPSHOT_REC_CALL_ID = 6,
    MCREG_SNAPSHOT_REC_SETTINGS = 7,
    /* 1.1 (8, 9 and 24 stay free: the tests use them as a later minor
     * version's unknown keys) */
    MCREG_SNAPSHOT_REC_VERSION = 16, /* [stamp, node] of the last write */
    MCREG_SNAPSHOT_REC_LOGON = 17    /* [stamp, node] of the creation */
};

#endif
