/* dbserver: mslbd's OVSDB server.
 *
 * With a database file, mslbd runs its own ovsdb-server on it: the file is
 * created from the schema if absent and converted (after a copy to
 * FILE.backup-OLDVERSION) if its schema is older; a server left over by an
 * mslbd killed with -9 (found by its locked pidfile) is stopped first, so
 * the server is always this process's child, on the current schema.  The
 * child runs in its own session (a terminal's ^C reaches mslbd only), is
 * restarted with backoff if it exits, and is stopped by dbserver_destroy().
 * Files in the run directory: mslb-db.sock (the remote), mslb-db.pid,
 * mslb-db.ctl (ovs-appctl -t), mslb-db.log.
 *
 * With an external remote (unix:PATH, tcp:IP:PORT, ssl:...) nothing is
 * started: the remote is handed to the IDL as is. */
#ifndef DBSERVER_H
#define DBSERVER_H 1

#include <stdbool.h>
#include <uv.h>

#define DBSERVER_WARN_UNUSED __attribute__((warn_unused_result))

struct dbserver_options {
    const char *db_file;        /* Database file, or NULL with 'remote'. */
    const char *run_dir;        /* NULL: the database file's directory. */
    const char *remote;         /* External server: starts nothing. */
    const char *schema;         /* NULL: dbserver_find_schema(). */
    const char *bin_dir;        /* ovsdb-server, ovsdb-tool; NULL: $PATH. */
    int start_timeout_ms;       /* 0: 10 s for the socket to answer. */
};

struct dbserver;

/* mslb.ovsschema: beside the running binary when installed
 * (BINDIR/../share/mslb/), in the source tree above a build directory,
 * else the install prefix's.  Malloc'd. */
char *dbserver_find_schema(void);

/* Prepares the database and starts the server (returns once its socket
 * accepts connections), or just records the external remote.  Runs tools
 * synchronously: call it at start-up, before mainloop_run().  Returns NULL
 * and '*dbp', or a malloc'd "path: reason" error. */
char *dbserver_start(uv_loop_t *, const struct dbserver_options *,
                     struct dbserver **dbp) DBSERVER_WARN_UNUSED;

/* The remote for ovsdb_idl_create(): "unix:RUNDIR/mslb-db.sock" or the
 * external one.  Owned by the dbserver. */
const char *dbserver_remote(const struct dbserver *);

/* Pid of the running child, 0 if none (external, or between restarts). */
int dbserver_pid(const struct dbserver *);

/* How many times the child was restarted after exiting on its own. */
unsigned int dbserver_restarts(const struct dbserver *);

/* Makes every transaction the server answered so far durable: ovsdb-server
 * writes a standalone database with write() per transaction but fsyncs only
 * for a transaction with a durable "commit" operation, which OVS's C IDL
 * never sends.  The reply to a transaction comes after its write(), so
 * fdatasync() of the file here, after TXN_SUCCESS, puts it on disk.
 * Returns 0 or an errno value; 0 with an external server (not ours to
 * sync). */
int dbserver_sync(struct dbserver *);

/* Stops the child (SIGTERM, then SIGKILL after 3 s) and waits for it, then
 * frees everything once libuv closed its handles (the loop must run again,
 * or be closed, for that).  Accepts NULL. */
void dbserver_destroy(struct dbserver *);

#endif /* dbserver.h */
