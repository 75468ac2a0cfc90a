/*
 * pkgconfig_smoke.c - the smallest useful program against an installed
 * libmcreg: one user logs on from two UEs.
 *
 *   cc $(pkg-config --cflags mcreg) pkgconfig_smoke.c $(pkg-config --libs mcreg)
 *
 * Prints "OK <version>" and exits 0 when the registry holds both records,
 * reported a NOTIFY_LOGON, and the library's version is the header's;
 * prints what went wrong and exits 1 otherwise.
 */
#include <stdio.h>
#include <string.h>

#include <mcreg.h>

static void count_logons(const mcreg_event *ev, void *user_data)
{
    size_t *logons = user_data;
    if (ev->type == MCREG_EV_NOTIFY_LOGON)
        (*logons)++;
}

static int logon(mcreg_registry *reg, const char *ue_id, uint64_t now_ms)
{
    mcreg_binding b = {0};
    b.user_id = "sip:alice@mcptt.example";
    b.ue_id = ue_id;
    b.expires_s = 600;
    int rc = mcreg_register(reg, &b, now_ms, NULL);
    if (rc != MCREG_OK)
        printf("mcreg_register %s: %s\n", ue_id, mcreg_strerror(rc));
    return rc;
}

int main(void)
{
    size_t logons = 0;
    mcreg_options *opts = NULL;
    mcreg_registry *reg = NULL;
    int ok = 0;

    int rc = mcreg_options_new(&opts);
    if (rc != MCREG_OK) {
        printf("mcreg_options_new: %s\n", mcreg_strerror(rc));
        return 1;
    }
    mcreg_options_set_event_callback(opts, count_logons, &logons);
    rc = mcreg_registry_new(&reg, opts);
    mcreg_options_free(opts);
    if (rc != MCREG_OK) {
        printf("mcreg_registry_new: %s\n", mcreg_strerror(rc));
        return 1;
    }

    if (logon(reg, "urn:uuid:00000000-0000-4000-8000-000000000001", 1000) == MCREG_OK &&
        logon(reg, "urn:uuid:00000000-0000-4000-8000-000000000002", 2000) == MCREG_OK) {
        size_t n = mcreg_record_count(reg);
        if (n != 2)
            printf("record count %zu, want 2\n", n);
        else if (logons == 0)
            printf("no NOTIFY_LOGON event\n");
        else if (strcmp(mcreg_version(), MCREG_VERSION_STRING) != 0)
            printf("library version %s, header %s\n", mcreg_version(), MCREG_VERSION_STRING);
        else if (mcreg_version_number() != MCREG_VERSION_NUMBER)
            printf("library version number %u, header %u\n", mcreg_version_number(),
                   (unsigned)MCREG_VERSION_NUMBER);
        else
            ok = 1;
    }
    mcreg_registry_free(reg);

    if (ok)
        printf("OK %s\n", mcreg_version());
    return ok ? 0 : 1;
}
