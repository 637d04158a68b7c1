/* Message templates: text in the 【label】value / ・label：value layout
 * with {{name}} placeholders (name: [A-Za-z0-9_.]+, spaces inside the
 * braces allowed). Rendering is pure; loading reads templates/<name>.txt. */
#ifndef DISP_TEMPLATE_H
#define DISP_TEMPLATE_H

#include <stddef.h>

/* Returns the value of the variable name[0..len) or NULL when unknown. */
typedef const char *(disp_var_fn)(void *opaque, const char *name, size_t len);

/* Renders tpl[0..len) into a new string (caller frees). NULL with a reason
 * naming the byte offset on an unterminated or malformed placeholder or an
 * unknown variable. */
char *disp_template_render(const char *tpl, size_t len, disp_var_fn *fn, void *opaque, char *err,
                           size_t err_size);

/* Reads <dir>/<name>.txt (name: [a-z0-9_-]+, so no path escapes). Caller
 * frees. NULL with a reason. */
char *disp_template_load(const char *dir, const char *name, char *err, size_t err_size);

#endif
