/* Process-wide shutdown flag set by SIGTERM/SIGINT. */
#ifndef OSHIRASE_SIGNAL_H
#define OSHIRASE_SIGNAL_H

/* Installs SIGTERM and SIGINT handlers (and ignores SIGPIPE: sockets report
 * EPIPE instead). Idempotent. */
void osh_signal_install(void);
/* Non-zero once a shutdown was requested by a signal or osh_shutdown_request(). */
int osh_shutdown_requested(void);
void osh_shutdown_request(void);
/* Tests only: clears the flag. */
void osh_shutdown_reset(void);

#endif
