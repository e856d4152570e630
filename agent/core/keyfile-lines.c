#include "keyfile-lines.h"

#include <string.h>

void keyfile_lines_init(struct keyfile_lines *lines, char *text, size_t len)
{
    lines->text = text;
    lines->len = len;
    lines->pos = 0;
    lines->number = 0;
}

/* GKeyFile's blanks: g_ascii_isspace without the locale. */
static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static size_t trim_end(const char *s, size_t len)
{
    while (len > 0 && is_blank(s[len - 1]))
        len--;
    return len;
}

bool keyfile_lines_next(struct keyfile_lines *lines, struct keyfile_line *out,
                        enum keyfile_line_error *error)
{
    *error = KEYFILE_LINE_OK;
    if (lines->pos >= lines->len)
        return false;
    char *start = lines->text + lines->pos;
    size_t left = lines->len - lines->pos;
    const char *newline = memchr(start, '\n', left);
    size_t line_len = newline != NULL ? (size_t)(newline - start) : left;
    lines->pos += line_len + (newline != NULL ? 1 : 0);
    lines->number++;

    out->number = lines->number;
    out->raw = start;
    out->raw_len = line_len;
    out->trimmed[0] = '\0';
    out->name[0] = '\0';
    size_t lead = 0;
    while (lead < line_len && is_blank(start[lead]))
        lead++;
    size_t body = trim_end(start + lead, line_len - lead);
    if (body > KEYFILE_LINE_MAX) {
        *error = KEYFILE_LINE_TOO_LONG;
        return false;
    }
    memcpy(out->trimmed, start + lead, body);
    out->trimmed[body] = '\0';
    if (memchr(start, '\0', line_len) != NULL) {
        *error = KEYFILE_LINE_NUL;
        return false;
    }

    const char *p = out->trimmed;
    if (body == 0 || p[0] == '#') {
        out->kind = KEYFILE_LINE_BLANK;
        return true;
    }
    if (p[0] == ';') {
        start[lead] = '#';
        out->kind = KEYFILE_LINE_BLANK;
        return true;
    }
    if (p[0] == '[') {
        const char *end = strchr(p, ']');
        if (end == NULL || end[1] != '\0') {
            *error = KEYFILE_LINE_BAD_GROUP;
            return false;
        }
        size_t name_len = (size_t)(end - p) - 1;
        memcpy(out->name, p + 1, name_len);
        out->name[name_len] = '\0';
        out->kind = KEYFILE_LINE_GROUP;
        return true;
    }
    const char *equals = strchr(p, '=');
    if (equals == NULL || equals == p) {
        *error = KEYFILE_LINE_NOT_KEY_VALUE;
        return false;
    }
    size_t key_len = trim_end(p, (size_t)(equals - p));
    memcpy(out->name, p, key_len);
    out->name[key_len] = '\0';
    out->kind = KEYFILE_LINE_KEY;
    return true;
}
