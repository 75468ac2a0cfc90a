#include "sort.h"

/* Max-heap sift-down over items[0..n). */
static void sift_down(void **items, size_t i, size_t n, mcreg_sort_cmp_fn cmp)
{
    void *x = items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && cmp(items[child + 1], items[child]) > 0)
            child++;
        if (cmp(x, items[child]) >= 0)
            break;
        items[i] = items[child];
        i = child;
    }
    items[i] = x;
}

void mcreg__sort(void **items, size_t n, mcreg_sort_cmp_fn cmp)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(items, i, n, cmp);
    for (size_t end = n; end-- > 1;) {
        void *top = items[0];
        items[0] = items[end];
        items[end] = top;
        sift_down(items, 0, end, cmp);
    }
}
