/* Column-aligned text tables for mslbctl's output.
 *
 * Cells are added left to right, top to bottom; a row ends after as many
 * cells as there are columns.  Columns are as wide as their widest cell
 * and two spaces apart, and lines carry no trailing blanks. */
#ifndef CLI_TABLE_H
#define CLI_TABLE_H 1

#include <stddef.h>
#include <stdio.h>

struct cli_table;

/* Returns a new table with 'n' columns named by 'headers' (copied), or
 * with no header line if 'headers' is NULL. */
struct cli_table *cli_table_create(size_t n, const char *const headers[]);
void cli_table_destroy(struct cli_table *);

/* Appends one cell.  Control characters in the text become '?', so that
 * what the server sends cannot drive the terminal. */
void cli_table_add(struct cli_table *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void cli_table_print(const struct cli_table *, FILE *);

#endif /* cli_table.h */
