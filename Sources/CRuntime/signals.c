#include "signals.h"
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>

#define RB_MAX_CHILDREN 256
static volatile sig_atomic_t stop_signal = 0;
static volatile pid_t children[RB_MAX_CHILDREN];

static void on_stop(int sig) {
    if (!stop_signal) stop_signal = sig;
    for (int i = 0; i < RB_MAX_CHILDREN; i++) {
        pid_t p = children[i];
        if (p > 0) kill(p, sig);
    }
}

void rb_stop_on_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int rb_stop_signal(void) { return stop_signal; }

void rb_add_child(pid_t pid) {
    for (int i = 0; i < RB_MAX_CHILDREN; i++) {
        if (__sync_bool_compare_and_swap(&children[i], 0, pid)) {
            if (stop_signal) kill(pid, stop_signal);  // a stop that came while it was starting
            return;
        }
    }
}

void rb_remove_child(pid_t pid) {
    for (int i = 0; i < RB_MAX_CHILDREN; i++) {
        if (__sync_bool_compare_and_swap(&children[i], pid, 0)) return;
    }
}

int rb_child_setup(pid_t parent) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (parent > 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) return -1;
    }
    return 0;
}
