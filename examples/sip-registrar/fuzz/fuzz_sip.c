/*
 * fuzz_sip.c - libFuzzer target: the SIP registrar example's handling of
 * datagrams from the network (examples/sip-registrar/, all of it but
 * main.c, with no socket: what it would send is dropped).
 *
 * An input is one or more datagrams separated by two NUL bytes, handed in
 * order to a fresh registrar (UE limit 3 with evict-oldest, logon and
 * logoff notifications, minimum expiry 1 s), so that one input can build a
 * state and then attack it. Each datagram is copied into a buffer of its
 * exact size plus the NUL the receive loop adds, so AddressSanitizer sees
 * any read past it. Then every record is expired (logoff MESSAGEs), every
 * MESSAGE retransmitted once and timed out, and everything freed:
 * LeakSanitizer checks that nothing is left.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registrar.h"

static void discard_trace(const char *file, int line, osip_trace_level_t level, const char *fmt,
                          va_list ap)
{
    (void)file, (void)line, (void)level, (void)fmt, (void)ap;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    parser_init();
    osip_trace_initialize_func(TRACE_LEVEL0, discard_trace);
    for (int level = 0; level < END_TRACE_LEVEL; level++)
        osip_trace_disable_level((osip_trace_level_t)level);
    /* Every line is still formatted; none is written. */
    FILE *null = fopen("/dev/null", "w");
    if (!null)
        abort();
    log_set_stream(null);
    return 0;
}

static int open_registrar(registrar *r)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    r->rng = 1;
    r->cfg = (config){.listen = "127.0.0.1:5060",
                      .max_ues = 3,
                      .limit_policy = MCREG_LIMIT_EVICT_OLDEST,
                      .notify = MCREG_NOTIFY_ALL,
                      .notify_logoff = 1,
                      .min_expires_s = 1,
                      .max_expires_s = 7200,
                      .default_expires_s = 3600};
    snprintf(r->local_str, sizeof r->local_str, "%s", r->cfg.listen);
    mcreg_options *o;
    if (mcreg_options_new(&o) != MCREG_OK)
        return -1;
    mcreg_options_set_event_callback(o, notify_on_event, r);
    mcreg_options_set_max_ues(o, r->cfg.max_ues);
    mcreg_options_set_limit_policy(o, r->cfg.limit_policy);
    mcreg_options_set_notify_logoff(o, 1);
    int rc = mcreg_registry_new(&r->reg, o);
    mcreg_options_free(o);
    return rc == MCREG_OK ? 0 : -1;
}

static void handle(registrar *r, const uint8_t *p, size_t n, const address *from)
{
    char *copy = malloc(n + 1);
    if (!copy)
        abort();
    memcpy(copy, p, n);
    copy[n] = '\0';
    sip_handle_datagram(r, copy, n, from);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    registrar r;
    address from;
    if (open_registrar(&r) != 0 || net_parse_address("127.0.0.1:5070", &from) != 0)
        abort();
    const uint8_t *p = data, *end = data + size;
    while (p < end) {
        const uint8_t *sep = p;
        while (sep + 1 < end && !(sep[0] == 0 && sep[1] == 0))
            sep++;
        if (sep + 1 >= end)
            sep = end;
        handle(&r, p, (size_t)(sep - p), &from);
        p = sep == end ? end : sep + 2;
    }
    /* Everything lapses: EXPIRED and NOTIFY_LOGOFF for every record. */
    mcreg_expire(r.reg, UINT64_MAX, NULL);
    notify_flush(&r);
    /* Timer E, then Timer F, for every MESSAGE. */
    client_tx_run_timers(&r, mono_ms() + SIP_T1_MS);
    client_tx_run_timers(&r, mono_ms() + 2 * SIP_TIMER_F_MS);
    if (r.n_timers != 0)
        abort();
    notify_free(&r);
    client_tx_free_all(&r);
    server_tx_free_all(&r);
    mcreg_registry_free(r.reg);
    return 0;
}
