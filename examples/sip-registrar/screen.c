/*
 * screen.c - one cheap pass over a datagram before osip sees a byte.
 *
 * libosip2's parser is quadratic in the header lines of a message and in
 * the parameters of a header: a 64 KB datagram of 32,000 ';p' parameters
 * cost 1.2 s of CPU, 12,000 tiny headers 150 ms. So what osip is given is
 * bounded first, in one pass that looks at each byte once:
 *   - the datagram (SIP_MAX_ACCEPTED) and its header section
 *     (SIP_MAX_HEADER_BYTES);
 *   - the lines of the whole datagram, body and MIME parts included, since
 *     osip parses a part's headers too (SIP_MAX_LINES);
 *   - per header (a folded header, its continuation lines included):
 *     parameters, counted as ';' and '&' (URI parameters and URI headers),
 *     and commas (SIP_MAX_PARAMS, SIP_MAX_COMMAS).
 * With these a datagram, however built, costs osip well under a
 * millisecond (repro/01_parse_cost.py measures the shapes at the limits).
 * A datagram past them is dropped, not answered: a 400 would need osip to
 * parse it first.
 *
 * The same pass refuses a datagram that repeats Content-Type in one block
 * of lines (below).
 */
#include <string.h>
#include <strings.h>

#include "registrar.h"

/* How many times "content-type", in any case, stands in the line from `s`
 * to `end`, wherever in it: libosip2 reads a Content-Type header by those
 * 12 letters alone, and where it starts a part's headers is its own affair. */
static int content_type_count(const char *s, const char *end)
{
    static const char name[] = "content-type";
    size_t n = sizeof name - 1;
    int count = 0;
    for (; (size_t)(end - s) >= n; s++) {
        if ((*s == 'c' || *s == 'C') && strncasecmp(s, name, n) == 0) {
            count++;
            s += n - 1;
        }
    }
    return count;
}

/* The end of the line at `p`: its CR, LF or CRLF (osip takes each as a
 * line end in a MIME part); *next is where the next line starts. */
static const char *line_end(const char *p, const char *end, const char **next)
{
    const char *e = p;
    while (e < end && *e != '\r' && *e != '\n')
        e++;
    *next = e < end && *e == '\r' && e + 1 < end && e[1] == '\n' ? e + 2 : e < end ? e + 1 : end;
    return e;
}

typedef struct header_counts {
    unsigned params, commas;
} header_counts;

static void count_separators(const char *s, const char *end, header_counts *c)
{
    for (; s < end; s++) {
        if (*s == ';' || *s == '&')
            c->params++;
        else if (*s == ',')
            c->commas++;
    }
}

/* libosip2 5.3.0 leaks a MIME part's Content-Type when the part has two
 * (osip_body_set_contenttype overwrites the first): a datagram could leak
 * memory at will. Such a datagram is refused: two "content-type" in one
 * block of its lines, a block running from an empty line to the next (CR,
 * LF or CRLF end a line, as for osip). That is meant to be wider than
 * osip's part headers, which follow their boundary within one block: it
 * errs on the side of refusing a strange body. The message's own headers
 * are a block too (where a second Content-Type is as wrong), and osip may
 * find the body after line ends other than CRLF CRLF. Found by fuzz_sip,
 * which keeps checking it. */
const char *screen_datagram(const char *data, size_t len)
{
    if (len > SIP_MAX_ACCEPTED)
        return "too-large";
    const char *head_end = memmem(data, len, "\r\n\r\n", 4);
    if ((head_end ? (size_t)(head_end + 4 - data) : len) > SIP_MAX_HEADER_BYTES)
        return "header-too-large";
    const char *end = data + len;
    const char *p = data;
    int in_block = 0;
    unsigned lines = 0;
    header_counts header = {0, 0};
    while (p < end) {
        const char *next;
        const char *e = line_end(p, end, &next);
        if (++lines > SIP_MAX_LINES)
            return "too-many-lines";
        if (e == p) {
            in_block = 0; /* an empty line ends a block of headers */
        } else {
            if ((in_block += content_type_count(p, e)) > 1)
                return "repeated-content-type";
            /* A line that starts with white space continues a header. */
            if (*p != ' ' && *p != '\t')
                header = (header_counts){0, 0};
            count_separators(p, e, &header);
            if (header.params > SIP_MAX_PARAMS)
                return "too-many-params";
            if (header.commas > SIP_MAX_COMMAS)
                return "too-many-commas";
        }
        p = next;
    }
    return NULL;
}
