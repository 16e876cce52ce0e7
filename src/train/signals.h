/* Stop requests by signal: the first SIGINT, SIGTERM or SIGUSR1 asks for a checkpoint
 * and a clean stop (exit 3); a second SIGINT or SIGTERM stops at once. */
#ifndef ATAS_TRAIN_SIGNALS_H
#define ATAS_TRAIN_SIGNALS_H

void atas_signals_install(void);
/* the signal of the first stop request, 0 when none came */
int atas_signals_stop_requested(void);
const char *atas_signals_name(int sig);

#endif
