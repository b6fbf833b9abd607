/* OpenFlow over TLS: see oftls.h. */
#include <config.h>
#include "oftls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(oftls);

static SSL_CTX *server_ctx, *client_ctx;
static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

struct oftls {
    SSL *ssl;
    BIO *rbio, *wbio;           /* Network side: in, out. */
    struct ofpbuf *pending;     /* Plaintext waiting for the handshake. */
    bool ready;
};

/* The last OpenSSL error as text, malloc'd. */
static char *
ssl_error(const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256];

    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return xasprintf("%s: %s", what, e ? buf : "unknown error");
}

static SSL_CTX *
make_ctx(const SSL_METHOD *method, const char *key, const char *cert,
         const char *ca, char **error)
{
    SSL_CTX *ctx = SSL_CTX_new(method);

    if (!ctx) {
        *error = ssl_error("SSL_CTX_new");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        *error = ssl_error(cert);
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        *error = ssl_error(key);
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        *error = ssl_error("the private key does not match the certificate");
    } else if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
        *error = ssl_error(ca);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER
                           | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        return ctx;
    }
    SSL_CTX_free(ctx);
    return NULL;
}

char *
oftls_configure(const char *key, const char *cert, const char *ca)
{
    char *error = NULL;

    if (!key || !cert || !ca) {
        return xstrdup("TLS needs --private-key, --certificate and "
                       "--ca-cert");
    }
    server_ctx = make_ctx(TLS_server_method(), key, cert, ca, &error);
    if (server_ctx) {
        client_ctx = make_ctx(TLS_client_method(), key, cert, ca, &error);
    }
    return error;
}

bool
oftls_is_configured(void)
{
    return server_ctx && client_ctx;
}

struct oftls *
oftls_create(bool server)
{
    struct oftls *t = xzalloc(sizeof *t);

    t->ssl = SSL_new(server ? server_ctx : client_ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    if (server) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
    }
    t->pending = ofpbuf_new(0);
    ERR_clear_error();
    SSL_do_handshake(t->ssl);           /* A client's hello, now. */
    ERR_clear_error();
    return t;
}

void
oftls_destroy(struct oftls *t)
{
    if (t) {
        SSL_free(t->ssl);               /* Frees the BIOs. */
        ofpbuf_delete(t->pending);
        free(t);
    }
}

/* Writes what waits, once the handshake is done.  OpenSSL's error queue
 * is the thread's, shared by every session: it is cleared before each
 * call, so that one session's failure is not read as another's. */
static char *
write_pending(struct oftls *t)
{
    while (t->ready && t->pending->size) {
        int n;

        ERR_clear_error();
        n = SSL_write(t->ssl, t->pending->data, t->pending->size);
        if (n <= 0) {
            int e = SSL_get_error(t->ssl, n);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                return NULL;            /* Again after the next input. */
            }
            return ssl_error("TLS write");
        }
        ofpbuf_pull(t->pending, n);
    }
    return NULL;
}

char *
oftls_input(struct oftls *t, const void *data, size_t n, struct ofpbuf *plain)
{
    char *error;

    if (n && BIO_write(t->rbio, data, n) != (int) n) {
        return ssl_error("BIO_write");
    }
    if (!t->ready) {
        int r;

        ERR_clear_error();
        r = SSL_do_handshake(t->ssl);

        if (r != 1) {
            int e = SSL_get_error(t->ssl, r);
            long v = SSL_get_verify_result(t->ssl);

            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                return NULL;
            }
            if (v != X509_V_OK) {
                ERR_clear_error();
                return xasprintf("TLS: the peer's certificate is refused: "
                                 "%s", X509_verify_cert_error_string(v));
            }
            return ssl_error("TLS handshake");
        }
        t->ready = true;
    }
    for (;;) {
        uint8_t buf[16384];
        int r;

        ERR_clear_error();
        r = SSL_read(t->ssl, buf, sizeof buf);
        if (r > 0) {
            ofpbuf_put(plain, buf, r);
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            /* What waited for the handshake, or for this input. */
            error = write_pending(t);
            return error;
        }
        if (e == SSL_ERROR_ZERO_RETURN) {
            return xstrdup("TLS: closed by the peer");
        }
        return ssl_error("TLS read");
    }
}

void
oftls_output(struct oftls *t, const void *data, size_t n)
{
    char *error;

    ofpbuf_put(t->pending, data, n);
    error = write_pending(t);
    if (error) {
        /* The next input reports the session's failure. */
        VLOG_WARN_RL(&rl, "%s", error);
        free(error);
    }
}

void
oftls_take_cipher(struct oftls *t, struct ofpbuf *cipher)
{
    char buf[16384];
    int n;

    while ((n = BIO_read(t->wbio, buf, sizeof buf)) > 0) {
        ofpbuf_put(cipher, buf, n);
    }
}

bool
oftls_is_ready(const struct oftls *t)
{
    return t->ready;
}

char *
oftls_peer_subject(const struct oftls *t)
{
    X509 *peer = SSL_get1_peer_certificate(t->ssl);
    char *subject;

    if (!peer) {
        return xstrdup("(no certificate)");
    }
    subject = X509_NAME_oneline(X509_get_subject_name(peer), NULL, 0);
    X509_free(peer);
    char *copy = xstrdup(subject ? subject : "?");
    OPENSSL_free(subject);
    return copy;
}
