/* The line structure of gnomon.conf and clock-helper.conf, read as GKeyFile reads it:
 * leading and trailing blanks ignored, "#" and ";" comments, "[name]" alone on its line,
 * "key = value" around the first "=". Each call yields one line with its number; the
 * callers judge encoding and meaning (which groups and keys exist) and word the errors. */
#ifndef GNOMON_CORE_KEYFILE_LINES_H
#define GNOMON_CORE_KEYFILE_LINES_H

#include <stdbool.h>
#include <stddef.h>

enum keyfile_line_kind {
    KEYFILE_LINE_BLANK, /* empty, blanks only, or a comment */
    KEYFILE_LINE_GROUP, /* name: between the brackets, as written */
    KEYFILE_LINE_KEY,   /* name: the key, blanks around it trimmed */
};

enum keyfile_line_error {
    KEYFILE_LINE_OK = 0,
    KEYFILE_LINE_NUL,           /* a NUL byte in the line */
    KEYFILE_LINE_BAD_GROUP,     /* "[" without "]" at the end of the line */
    KEYFILE_LINE_NOT_KEY_VALUE, /* no "=", or nothing before it */
    KEYFILE_LINE_TOO_LONG,      /* longer than KEYFILE_LINE_MAX */
};

/* Longer lines are refused: no setting needs them, and the name is copied out. */
#define KEYFILE_LINE_MAX 4096

/* The reader's position in text. text is written to: ";" comments become "#" (GKeyFile
 * knows only "#"), so the same buffer can go to GKeyFile afterwards. */
struct keyfile_lines {
    char *text;
    size_t len;
    size_t pos;
    unsigned number; /* of the line last read */
};

struct keyfile_line {
    enum keyfile_line_kind kind;
    unsigned number;
    const char *raw; /* the line as in the file, raw_len bytes, no newline */
    size_t raw_len;
    /* The line without surrounding blanks, NUL-terminated: for messages. */
    char trimmed[KEYFILE_LINE_MAX + 1];
    /* GROUP, KEY: the name, NUL-terminated. */
    char name[KEYFILE_LINE_MAX + 1];
};

void keyfile_lines_init(struct keyfile_lines *lines, char *text, size_t len);

/* Reads the next line into *out. false at the end of the text (*error KEYFILE_LINE_OK) or
 * on a line that is none of the kinds (*error says why, out->number and out->trimmed say
 * where and what). */
bool keyfile_lines_next(struct keyfile_lines *lines, struct keyfile_line *out,
                        enum keyfile_line_error *error);

#endif
