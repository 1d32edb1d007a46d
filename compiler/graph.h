/*
 * graph.h: `modelc graph`, the model as a Graphviz DOT graph.
 *
 * One node per layer (its index, its name if it has one, the layer as
 * written and its parameter count), the input and the output as nodes of
 * their own, and on every edge the shape of the tensor flowing along it.
 * The text is deterministic: the same model gives the same bytes.
 */
#ifndef MODELC_GRAPH_H
#define MODELC_GRAPH_H

#include <stddef.h>
#include <stdio.h>

#include "modelc.h"

/* Print the DOT text of a model after shape inference (every layer's
 * `out` set). User text (names, the spec path) is escaped. */
void graph_dot(FILE *out, const Model *m);

/* The same text, malloc'd. */
char *graph_dot_str(const Model *m);

/* The format graph_render writes for `outpath`, from its extension in any
 * case: "svg", "png", "dot" (.dot or .gv), or NULL for anything else (so
 * a command line can be checked before the spec runs). */
const char *graph_format(const char *outpath);

/* Write `dot_text` to `outpath` in the format its extension names: .svg
 * and .png run Graphviz's `dot` (found on PATH, no shell), .dot and .gv
 * write the text as it is. Return 0, or -1 with a message in err[errlen]
 * (no "error:" prefix): an unknown extension, a file that cannot be
 * written, "graphviz's dot is not installed: apt-get install graphviz",
 * or dot's exit status when it fails (its own messages go to stderr). */
int graph_render(const char *dot_text, const char *outpath, char *err,
                 size_t errlen);

#endif
