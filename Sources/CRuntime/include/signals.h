#pragma once
// Stopping cleanly on SIGINT / SIGTERM, for training processes and the processes that start them.
//
// rb_stop_on_signals() installs handlers that record the signal (the trainer checks rb_stop_signal() after every
// step, saves a checkpoint and exits with one line) and forward it to every child registered with rb_add_child
// (a fastweights grid's runs, gnuplot), so that children stop with their parent. Handlers are plain sigaction
// handlers, reset to the default in exec'd children (an ignored or blocked signal would be inherited instead).
#include <sys/types.h>

void rb_stop_on_signals(void);
// The first SIGINT/SIGTERM received since rb_stop_on_signals, or 0.
int rb_stop_signal(void);
void rb_add_child(pid_t pid);
void rb_remove_child(pid_t pid);
// In a child: unblocks every signal (a thread that started it may have had some blocked) and, when `parent` is
// positive, asks the kernel for SIGTERM when the parent dies; returns -1 if the parent is already gone.
int rb_child_setup(pid_t parent);
