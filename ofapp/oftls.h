/* OpenFlow over TLS for ofsession (targets ssl:IP:PORT, pssl:PORT[:IP]):
 * OpenSSL between the session's OpenFlow bytes and libuv's stream, with
 * memory BIOs, so the session's loop and framing stay as they are.
 *
 * As OVS does it: mslbd presents --certificate/--private-key and accepts
 * only a peer whose certificate the --ca-cert signed (with the OVS PKI,
 * `ovs-pki`: the switches' CA on the controller, the controllers' CA on
 * the switches).  TLS 1.2 at least. */
#ifndef OFTLS_H
#define OFTLS_H 1

#include <stdbool.h>
#include <stddef.h>

struct ofpbuf;
struct oftls;

/* Loads the key, the certificate and the CA once, for every TLS session.
 * Returns NULL or a malloc'd error. */
char *oftls_configure(const char *private_key, const char *certificate,
                      const char *ca_cert);
bool oftls_is_configured(void);

/* A TLS session's state: 'server' for accepted connections. */
struct oftls *oftls_create(bool server);
void oftls_destroy(struct oftls *);

/* 'n' bytes received: appends the plaintext they complete to 'plain'.
 * Returns NULL, or a malloc'd reason the session must end (a failed
 * handshake, an unverified peer). */
char *oftls_input(struct oftls *, const void *data, size_t n,
                  struct ofpbuf *plain);
/* Plaintext to send: kept until the handshake is done. */
void oftls_output(struct oftls *, const void *data, size_t n);
/* Moves the bytes ready for the wire to 'cipher'. */
void oftls_take_cipher(struct oftls *, struct ofpbuf *cipher);
/* The handshake is done: the peer's certificate subject (malloc'd). */
bool oftls_is_ready(const struct oftls *);
char *oftls_peer_subject(const struct oftls *);

#endif /* oftls.h */
