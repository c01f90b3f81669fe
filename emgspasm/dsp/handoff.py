"""A count one thread publishes and another reads, for kernels that hand work over (Numba).

The filters run a block ahead of detection in another thread: they publish how many blocks are
filtered, and detection reads it before it touches a block. Release on the writing side and
acquire on the reading side make the block's samples visible before the count that announces
them.
"""

from __future__ import annotations

import llvmlite.ir as ir
import numba
from numba import types
from numba.extending import intrinsic


@intrinsic
def publish(typingctx, counter, value):
    """``counter[0] = value``, after every write before it (an atomic release store)."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
        return None

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        value = context.cast(builder, args[1], sig.args[1], types.int64)
        builder.store_atomic(value, ary.data, "release", 8)
        return context.get_dummy_value()

    return types.none(counter, value), codegen


@intrinsic
def published(typingctx, counter):
    """``counter[0]`` as last published, read anew each time (an atomic acquire load)."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
        return None

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        return builder.load_atomic(ary.data, "acquire", 8)

    return types.int64(counter), codegen


@intrinsic
def pause(typingctx):
    """A hint to the core that this thread is waiting in a loop (``pause`` on x86): it spends
    less power and leaves more of the core to its sibling while it polls."""

    def codegen(context, builder, sig, args):
        if "x86" in builder.module.triple or "i386" in builder.module.triple:
            fn = builder.module.declare_intrinsic("llvm.x86.sse2.pause", fnty=ir.FunctionType(
                ir.VoidType(), []))
            builder.call(fn, [])
        return context.get_dummy_value()

    return types.none(), codegen


@numba.njit(cache=True, nogil=True)
def await_change(counter, seen, polls):
    """Whether ``counter[0]`` moves on from ``seen`` within ``polls`` polls (about 25 ns each)."""
    for _ in range(polls):
        if published(counter) != seen:
            return True
        pause()
    return False
