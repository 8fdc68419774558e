// How many of the engine's threads the code on the calling thread may use (0: not set, all of them). Set while a
// job runs beside others (an attention head), so that the ops inside it use only its share of the threads instead
// of splitting again over all of them.
#pragma once

int rb_thread_budget(void);
void rb_set_thread_budget(int threads);

// Returns *counter and adds 1 to it, atomically: how workers claim the next of a list of jobs.
long rb_claim_next(long *counter);
