/* faults.h - a target cannot SIGBUS profd, and profd stops on time
 * (faults.c explains how). Process-wide state, no allocation, no errors
 * to report.
 */
#ifndef PROFD_FAULTS_H
#define PROFD_FAULTS_H

#include <stdint.h>

/* Install the SIGBUS handler that turns a fault on a truncated mapped file
 * into a page of zeros (see faults.c). Main thread, before any thread.
 * Logs a warning (and goes on without) if it cannot be installed. */
void faults_install(void);

/* Pages replaced so far. Any thread. */
uint64_t faults_patched(void);

/* End the process in a short while whatever is still running: called
 * once, by the main thread, when shutdown starts. Logs a warning if the
 * watchdog cannot be started. */
void faults_shutdown_deadline(void);

#endif /* PROFD_FAULTS_H */
