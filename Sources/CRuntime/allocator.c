#include "allocator.h"
#include <stdlib.h>  // defines __GLIBC__ on glibc systems (the test below needs a libc header first)
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void rb_keep_freed_memory(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum (larger values are refused)
    mallopt(M_TRIM_THRESHOLD, 1 << 30);   // never hand freed heap memory back between steps
    mallopt(M_TOP_PAD, 256 << 20);        // grow the heap in large steps
#endif
}

// Runs when the program loads, before Swift code allocates anything.
__attribute__((constructor)) static void rb_allocator_at_load(void) { rb_keep_freed_memory(); }

#include <stdint.h>

void *rb_alloc64(size_t bytes) {
    char *p = malloc(bytes + 64);
    if (!p) return NULL;
    char *a = (char *)(((uintptr_t)p + 64) & ~(uintptr_t)63);  // 16 to 64 bytes past p: room for p itself
    ((void **)a)[-1] = p;
    return a;
}

void rb_free64(void *a) {
    if (a) free(((void **)a)[-1]);
}
