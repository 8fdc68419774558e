#pragma once
// Keeps large freed blocks in the heap instead of returning them to the kernel (glibc mallopt), so a training
// step reuses the previous step's pages rather than faulting in fresh ones. Idempotent.
void rb_keep_freed_memory(void);
