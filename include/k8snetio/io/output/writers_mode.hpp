// library.md A4: how the writers of findings are compiled. Header-only (the default), each
// writer header brings its definitions (`<name>-inl.hpp`), `inline`. With K8SNETIO_COMPILED_IO,
// which the target k8snetio::compiled_io gives its users, the headers only declare the writers:
// they are compiled once into that library (src/compiled_io.cpp), and a translation unit that
// writes findings parses neither their bodies nor fmt. Every translation unit of a program must
// see the same choice (link k8snetio::compiled_io, not the macro alone).
#pragma once

#if !defined(K8SNETIO_IO_INLINE)
#define K8SNETIO_IO_INLINE inline
#endif
