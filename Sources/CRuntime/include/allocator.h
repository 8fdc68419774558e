#pragma once
// Keeps large freed blocks in the heap instead of returning them to the kernel (glibc mallopt), so a training
// step reuses the previous step's pages rather than faulting in fresh ones. Idempotent.
void rb_keep_freed_memory(void);
#include <stddef.h>
// `bytes` on a 64-byte boundary from plain malloc (over-allocated by 64 bytes, the block's start kept just before
// the returned address): glibc's memalign fragments the heap of a training step (new pages every step); this does
// not. NULL when out of memory. Free only with rb_free64.
void *rb_alloc64(size_t bytes);
void rb_free64(void *p);
