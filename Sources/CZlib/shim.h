#pragma once
#include <zlib.h>
// inflateInit2/deflateInit2 are macros; these wrappers make them callable from Swift.
static inline int czlib_inflate_init_raw(z_stream *s) { return inflateInit2(s, -15); }
static inline int czlib_deflate_init_raw(z_stream *s, int level) {
    return deflateInit2(s, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
}
