#include "thread_budget.h"

static _Thread_local int budget = 0;

int rb_thread_budget(void) { return budget; }
void rb_set_thread_budget(int threads) { budget = threads; }

long rb_claim_next(long *counter) { return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED); }
