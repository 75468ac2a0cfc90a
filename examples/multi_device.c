/*
 * multi_device.c - libmcreg as a SIP application server sees it.
 *
 * The MCPTT user sip:alice@mcptt.example logs on from her phone, then from
 * her tablet. The server (the host) owns the network and the clock; the
 * registry keeps the state and tells the host, through events, what to do.
 * For each NOTIFY_LOGON / NOTIFY_LOGOFF the host sends a SIP MESSAGE to the
 * recipient UE's contact, naming the user's other UEs (TS 22.179
 * R-6.11-001); here it prints the request instead of sending it.
 *
 * Then the phone refreshes, a retransmitted REGISTER is caught as stale, the
 * tablet logs off (notify-logoff is on, so the phone is told), and the
 * phone's registration runs out on a simulated clock driven by
 * mcreg_next_expiry() and mcreg_expire().
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mcreg.h"

#define USER "sip:alice@mcptt.example"
#define PHONE "urn:uuid:8d3f5c2a-4b1e-4f6a-9c7d-2e1f0a9b8c71"
#define TABLET "urn:uuid:1c9e7b4d-6a2f-4e3b-8d5c-7f0a1b2c3d4e"

#define TEXT(k, s) {.key = (k), .type = MCREG_VAL_TEXT, .v.text = {(s), sizeof(s) - 1}}
#define INT(k, n) {.key = (k), .type = MCREG_VAL_INT, .v.i = (n)}
#define BOOL(k, n) {.key = (k), .type = MCREG_VAL_BOOL, .v.b = (n)}

/* Per-UE client settings, as the REGISTER body would carry them. */
static const mcreg_setting phone_settings[] = {
    TEXT("device", "handset"), INT("max-simultaneous-calls", 2), BOOL("emergency-capable", 1)};
static const mcreg_setting tablet_settings[] = {
    TEXT("device", "tablet"), INT("max-simultaneous-calls", 1), BOOL("emergency-capable", 0)};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *nick(const char *ue_id)
{
    return strcmp(ue_id, PHONE) == 0 ? "phone" : strcmp(ue_id, TABLET) == 0 ? "tablet" : ue_id;
}

static void on_event(const mcreg_event *ev, void *user_data)
{
    (void)user_data;
    int logon = ev->type == MCREG_EV_NOTIFY_LOGON;

    if (!logon && ev->type != MCREG_EV_NOTIFY_LOGOFF) {
        printf("  event %-13s %s at the %s\n", mcreg_event_name(ev->type), ev->user_id,
               nick(ev->ue_id));
        return;
    }
    /* The recipient's record says where to send the MESSAGE. */
    const char *contact = mcreg_record_contact(ev->recipient);
    printf("  event %-13s -> tell the %s:\n", mcreg_event_name(ev->type), nick(ev->recipient_ue_id));
    printf("      MESSAGE %s SIP/2.0\n", contact ? contact : ev->recipient_ue_id);
    printf("      To: <%s>\n", ev->user_id);
    printf("      Content-Type: text/plain\n\n");
    printf("      %s %s at the %s.\n", ev->user_id, logon ? "logged on" : "logged off",
           nick(ev->ue_id));
    printf("      Your other UEs:");
    for (size_t i = 0; i < ev->n_other; i++)
        printf("%s the %s", i ? "," : "", nick(ev->other_ue_ids[i]));
    printf("%s\n", ev->n_other ? "." : " none.");
}

/* One REGISTER from Alice's UE; prints the outcome or the error. */
static int do_register(mcreg_registry *reg, uint64_t now_ms, const char *ue_id,
                       const char *contact, uint32_t cseq, uint32_t expires_s,
                       const mcreg_setting *settings, size_t n_settings)
{
    static const char *const outcomes[] = {"created", "refreshed", "removed"};
    mcreg_binding b = {.user_id = USER, .ue_id = ue_id, .contact = contact,
                       .call_id = strcmp(ue_id, PHONE) == 0 ? "a84b4c76e66710" : "f81d4fae7dec11",
                       .cseq = cseq, .expires_s = expires_s,
                       .settings = settings, .n_settings = n_settings};
    mcreg_outcome outcome;

    printf("\nt=%" PRIu64 "s  REGISTER from the %s, CSeq %" PRIu32 ", Expires: %" PRIu32 "\n",
           now_ms / 1000, nick(ue_id), cseq, expires_s);
    int rc = mcreg_register(reg, &b, now_ms, &outcome);
    if (rc != MCREG_OK)
        printf("  -> refused: %s\n", mcreg_strerror(rc));
    else
        printf("  -> 200 OK (%s)\n", outcomes[outcome]);
    return rc;
}

static int show_ue(const mcreg_record *r, void *ud)
{
    const char *contact = mcreg_record_contact(r);
    (void)ud;
    printf("  the %s: %s, contact %s, expires at t=%" PRIu64 "s\n", nick(mcreg_record_ue_id(r)),
           mcreg_record_ue_id(r), contact ? contact : "(none)", mcreg_record_expires_at(r) / 1000);
    for (size_t i = 0; i < mcreg_record_setting_count(r); i++) {
        const mcreg_setting *s = mcreg_record_setting_at(r, i);
        printf("      %-24s ", s->key);
        switch (s->type) {
        case MCREG_VAL_INT: printf("%" PRId64 "\n", s->v.i); break;
        case MCREG_VAL_TEXT: printf("\"%.*s\"\n", (int)s->v.text.len, s->v.text.ptr); break;
        case MCREG_VAL_BOOL: printf("%s\n", s->v.b ? "true" : "false"); break;
        case MCREG_VAL_BYTES: printf("(%zu bytes)\n", s->v.bytes.len); break;
        }
    }
    return 0;
}

int main(void)
{
    mcreg_registry *reg = NULL;
    mcreg_options *opts = NULL;
    uint64_t now = 0, at;
    size_t n;
    int rc;

    if ((rc = mcreg_options_new(&opts)) != MCREG_OK)
        goto fail;
    mcreg_options_set_event_callback(opts, on_event, NULL);
    mcreg_options_set_notify_logoff(opts, 1); /* tell the other UEs on logoff too */
    mcreg_options_set_max_ues(opts, 4);       /* at most 4 UEs per user */
    /* A real server seeds the hash from the OS (getrandom, /dev/urandom). */
    mcreg_options_set_hash_seed(opts, UINT64_C(0x9e3779b97f4a7c15));
    rc = mcreg_registry_new(&reg, opts);
    mcreg_options_free(opts);
    if (rc != MCREG_OK)
        goto fail;
    printf("libmcreg %s\n", mcreg_version());

    /* Alice logs on from her phone, then from her tablet. */
    if ((rc = do_register(reg, now, PHONE, "sip:alice@192.0.2.10:5060;transport=tcp", 1, 600,
                          phone_settings, COUNT(phone_settings))) != MCREG_OK)
        goto fail;
    now = 5000;
    if ((rc = do_register(reg, now, TABLET, "sip:alice@198.51.100.23:5061;transport=tls", 1,
                          300, tablet_settings, COUNT(tablet_settings))) != MCREG_OK)
        goto fail;

    printf("\nAlice is logged on from %zu UEs:\n", mcreg_user_ue_count(reg, USER));
    if ((rc = mcreg_user_foreach(reg, USER, show_ue, NULL)) != MCREG_OK)
        goto fail;

    /* The phone refreshes (contact NULL: keep the stored one) ... */
    now = 60000;
    if ((rc = do_register(reg, now, PHONE, NULL, 2, 600, phone_settings,
                          COUNT(phone_settings))) != MCREG_OK)
        goto fail;
    /* ... and the same REGISTER arrives again: same Call-ID, same CSeq. */
    if ((rc = do_register(reg, now + 500, PHONE, NULL, 2, 600, phone_settings,
                          COUNT(phone_settings))) != MCREG_ERR_STALE)
        goto fail;

    /* The tablet logs off: REGISTER with Expires: 0. The phone is told. */
    now = 120000;
    if ((rc = do_register(reg, now, TABLET, NULL, 2, 0, NULL, 0)) != MCREG_OK)
        goto fail;

    /* The host keeps one timer, armed at mcreg_next_expiry(). The simulated
     * clock jumps to it; a real server would sleep until then. */
    while ((rc = mcreg_next_expiry(reg, &at)) == MCREG_OK) {
        now = at;
        printf("\nt=%" PRIu64 "s  the expiry timer fires\n", now / 1000);
        if ((rc = mcreg_expire(reg, now, &n)) != MCREG_OK)
            goto fail;
        printf("  -> %zu registration(s) expired, %zu left\n", n, mcreg_record_count(reg));
    }
    if (rc != MCREG_ERR_NOT_FOUND)
        goto fail;
    printf("\nNo registration left: the timer stays off.\n");

    mcreg_registry_free(reg);
    return 0;

fail:
    fprintf(stderr, "multi_device: unexpected result: %s (%d)\n", mcreg_strerror(rc), rc);
    mcreg_registry_free(reg);
    return 1;
}
