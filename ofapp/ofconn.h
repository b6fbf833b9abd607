/* One OpenFlow connection to one bridge: handshake, version negotiation,
 * port discovery, echo keepalive, adoption of installed flows, and the
 * reconciler that sends a bridge only what differs from the model. */
#ifndef OFCONN_H
#define OFCONN_H 1

#include <stdbool.h>
#include <uv.h>

struct mslbd;
struct ofconn;

/* A target: "ptcp:PORT[:IP]", "punix:PATH" (listen) or "tcp:IP:PORT",
 * "unix:PATH" (connect, and reconnect when lost).  Returns NULL or an error
 * message. */
char *ofconn_listen(struct mslbd *, const char *target);
char *ofconn_connect(struct mslbd *, const char *target);

/* Brings the connection's bridge in step with the daemon's model: called
 * when the model changes. */
void ofconn_sync(struct ofconn *);

/* Closes every listener (and removes unix socket files). */
void ofconn_close_listeners(void);

#endif /* ofconn.h */
