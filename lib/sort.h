/* Sorting arrays of pointers without memory of its own. */
#ifndef MCREG_SORT_H
#define MCREG_SORT_H

#include <stddef.h>

/* Compares two elements of the array (the pointers themselves, not
 * pointers to them): negative, zero or positive. */
typedef int (*mcreg_sort_cmp_fn)(const void *a, const void *b);

/* Sort items[0..n) in place with heapsort: O(n log n) at worst and no
 * allocation (the C library's qsort may call malloc). Not stable: callers
 * give total orders. */
void mcreg__sort(void **items, size_t n, mcreg_sort_cmp_fn cmp);

#endif
