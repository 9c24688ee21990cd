"""Compilation options shared by the CPU kernels."""

# fastmath lets LLVM vectorise the fused gate loops (reassociation, FMA contraction);
# error_model="numpy" removes the division-by-zero checks that also block it. Inputs
# are validated as finite before they reach a kernel. cache=True stores compiled
# machine code next to the source (or in NUMBA_CACHE_DIR) for the next process.
JIT_OPTIONS = {"cache": True, "fastmath": True, "error_model": "numpy", "nogil": True}
