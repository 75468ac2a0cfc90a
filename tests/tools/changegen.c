/* changegen: the replication bytes of a small, fixed history, for the
 * interop test (tests/sh/interop.sh) and the fuzz corpus.
 *
 *   changegen DIR
 * writes DIR/changes-put.cbor (one drained buffer: a put with settings),
 * DIR/changes-mixed.cbor (a replacement, an expiring put, a removal,
 * limits set and cleared) and DIR/snapshot-1.1.cbor (the node's snapshot
 * after both). Exit status 0, or 1 with a message on stderr. */
#include <stdio.h>
#include <stdlib.h>

#include "mcreg.h"

static void check(int rc, const char *what)
{
    if (rc != MCREG_OK) {
        fprintf(stderr, "changegen: %s: %s\n", what, mcreg_strerror(rc));
        exit(1);
    }
}

static void write_file(const char *dir, const char *name, const uint8_t *b, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "changegen: cannot write %s\n", path);
        exit(1);
    }
}

static void drain_to(mcreg_registry *r, const char *dir, const char *name)
{
    uint8_t *buf;
    size_t len;
    check(mcreg_changes_drain(r, &buf, &len), "drain");
    write_file(dir, name, buf, len);
    mcreg_buffer_free(r, buf);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: changegen DIR\n");
        return 1;
    }
    mcreg_options *o;
    mcreg_registry *r;
    check(mcreg_options_new(&o), "options");
    mcreg_options_set_node_id(o, 3);
    mcreg_options_set_max_expires(o, 3600);
    check(mcreg_registry_new(&r, o), "registry");
    mcreg_options_free(o);
    mcreg_setting s[2] = {{.key = "prio", .type = MCREG_VAL_INT, .v.i = -2},
                          {.key = "name", .type = MCREG_VAL_TEXT, .v.text = {"Al", 2}}};
    mcreg_binding b = {.user_id = "sip:alice@mcptt.example", .ue_id = "phone",
                       .contact = "sip:alice@192.0.2.1", .call_id = "c1", .cseq = 1,
                       .expires_s = 3600, .settings = s, .n_settings = 2};
    check(mcreg_register(r, &b, 1000, NULL), "register");
    drain_to(r, argv[1], "changes-put.cbor");
    b = (mcreg_binding){.user_id = "sip:bob@mcptt.example", .ue_id = "phone", .expires_s = 60};
    check(mcreg_register(r, &b, 2000, NULL), "register (replaces)");
    b = (mcreg_binding){.user_id = "sip:bob@mcptt.example", .ue_id = "desk", .expires_s = 1};
    check(mcreg_register(r, &b, 2000, NULL), "register");
    check(mcreg_deregister(r, "sip:bob@mcptt.example", "desk", 2100), "deregister");
    check(mcreg_set_user_max_ues(r, "sip:bob@mcptt.example", 2), "limit");
    check(mcreg_set_user_max_ues(r, "sip:carol@mcptt.example", 1), "limit");
    check(mcreg_clear_user_max_ues(r, "sip:carol@mcptt.example"), "clear limit");
    drain_to(r, argv[1], "changes-mixed.cbor");
    uint8_t *buf;
    size_t len;
    check(mcreg_snapshot(r, &buf, &len), "snapshot");
    write_file(argv[1], "snapshot-1.1.cbor", buf, len);
    mcreg_buffer_free(r, buf);
    mcreg_registry_free(r);
    return 0;
}
