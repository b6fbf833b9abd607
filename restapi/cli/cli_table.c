#include "cli_table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct cli_table {
    size_t n_cols;
    char **cells;               /* Row-major; the headers, if any, are
                                 * row 0. */
    size_t n_cells, allocated;
};

static void
out_of_memory(void)
{
    fputs("mslbctl: out of memory\n", stderr);
    abort();
}

static void
add_cell(struct cli_table *t, char *cell)
{
    if (t->n_cells == t->allocated) {
        t->allocated = t->allocated ? 2 * t->allocated : 64;
        t->cells = realloc(t->cells, t->allocated * sizeof *t->cells);
        if (!t->cells) {
            out_of_memory();
        }
    }
    for (char *p = cell; *p; p++) {
        if ((unsigned char) *p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
    }
    t->cells[t->n_cells++] = cell;
}

struct cli_table *
cli_table_create(size_t n, const char *const headers[])
{
    struct cli_table *t = calloc(1, sizeof *t);

    if (!t) {
        out_of_memory();
    }
    t->n_cols = n;
    for (size_t i = 0; headers && i < n; i++) {
        char *h = strdup(headers[i]);
        if (!h) {
            out_of_memory();
        }
        add_cell(t, h);
    }
    return t;
}

void
cli_table_destroy(struct cli_table *t)
{
    if (t) {
        for (size_t i = 0; i < t->n_cells; i++) {
            free(t->cells[i]);
        }
        free(t->cells);
        free(t);
    }
}

void
cli_table_add(struct cli_table *t, const char *fmt, ...)
{
    va_list args;
    char *cell;

    va_start(args, fmt);
    if (vasprintf(&cell, fmt, args) < 0) {
        out_of_memory();
    }
    va_end(args);
    add_cell(t, cell);
}

void
cli_table_print(const struct cli_table *t, FILE *stream)
{
    size_t *width = calloc(t->n_cols, sizeof *width);
    size_t line_size = 1;
    char *line;

    if (!width) {
        out_of_memory();
    }
    for (size_t i = 0; i < t->n_cells; i++) {
        size_t len = strlen(t->cells[i]);
        if (len > width[i % t->n_cols]) {
            width[i % t->n_cols] = len;
        }
    }
    for (size_t col = 0; col < t->n_cols; col++) {
        line_size += width[col] + 2;
    }
    line = malloc(line_size);
    if (!line) {
        out_of_memory();
    }
    for (size_t row = 0; row * t->n_cols < t->n_cells; row++) {
        size_t len = 0;

        for (size_t col = 0; col < t->n_cols; col++) {
            size_t i = row * t->n_cols + col;
            if (i < t->n_cells) {
                len += sprintf(line + len, "%-*s  ", (int) width[col],
                               t->cells[i]);
            }
        }
        /* An empty or short last cell must not leave blanks behind. */
        while (len && line[len - 1] == ' ') {
            len--;
        }
        line[len] = '\0';
        fprintf(stream, "%s\n", line);
    }
    free(line);
    free(width);
}
