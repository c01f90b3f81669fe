"""Several channels side by side in one CPU vector register, for Numba kernels.

Numba vectorises a loop over channels only when it can prove the trip count large and the arrays
apart; a loop over a handful of channels, entered once per sample, never qualifies. These
intrinsics let a kernel say it directly: a :class:`Lanes` value is an LLVM vector of ``count``
floats (float64, or float32 for the filters; one lane per channel), a :class:`Mask` one bit per
lane. The arithmetic is IEEE arithmetic lane by lane, exactly what the same scalar code gives for
each channel; :func:`fma` rounds once, as a fused multiply-add of scalar code does.

Loads and stores take a 2-D array, a row and the first lane's column; the lanes are that row's
next ``count`` columns, so the last axis must be contiguous. They are masked: lanes outside the
mask are neither read (they come back as 0) nor written, so a group of channels may end anywhere
in a row, or in the array.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model


class Lanes(types.Type):
    """``count`` floats of type ``dtype``, one per channel (an LLVM ``<count x double>`` or
    ``<count x float>``)."""

    def __init__(self, count: int, dtype: types.Float = types.float64) -> None:
        self.count = count
        self.dtype = dtype
        super().__init__(name=f"Lanes({count}, {dtype})")


class Mask(types.Type):
    """One bit per lane (an LLVM ``<count x i1>``)."""

    def __init__(self, count: int) -> None:
        self.count = count
        super().__init__(name=f"Mask({count})")


@register_model(Lanes)
class _LanesModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _vector(fe_type.dtype, fe_type.count))


@register_model(Mask)
class _MaskModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, ir.VectorType(ir.IntType(1), fe_type.count))


_I32 = ir.IntType(32)


def _doubles(count: int) -> ir.VectorType:
    return ir.VectorType(ir.DoubleType(), count)


def _vector(dtype: types.Float, count: int) -> ir.VectorType:
    return ir.VectorType(ir.DoubleType() if dtype == types.float64 else ir.FloatType(), count)


def _suffix(dtype: types.Float, count: int) -> str:
    """An LLVM intrinsic's type suffix, as ``v8f64``."""
    return f"v{count}f{dtype.bitwidth}"


def _pointer(context, builder, arrty, arr, row, col):
    """Address of ``arr[row, col]`` (no bounds or negative-index checks)."""
    ary = context.make_array(arrty)(context, builder, arr)
    return cgutils.get_item_pointer2(
        context, builder, data=ary.data, shape=cgutils.unpack_tuple(builder, ary.shape),
        strides=cgutils.unpack_tuple(builder, ary.strides), layout=arrty.layout,
        inds=[row, col], wraparound=False, boundscheck=False,
    )


def _broadcast(builder, value, vec_type):
    vec = ir.Constant(vec_type, ir.Undefined)
    for k in range(vec_type.count):
        vec = builder.insert_element(vec, value, ir.Constant(_I32, k))
    return vec


def _as_lanes(context, builder, ty, value, shape):
    """A value of the Lanes type ``shape``: a Lanes value as it is, a scalar broadcast to every
    lane."""
    if isinstance(ty, Lanes):
        return value
    return _broadcast(builder, context.cast(builder, value, ty, shape.dtype),
                      _vector(shape.dtype, shape.count))


@intrinsic
def first_lanes(typingctx, k, count):
    """The mask of lanes ``0 .. k-1`` out of ``count`` (a literal)."""
    if not isinstance(count, types.IntegerLiteral):
        return None
    n = count.literal_value

    def codegen(context, builder, sig, args):
        index = ir.Constant(ir.VectorType(ir.IntType(64), n), list(range(n)))
        limit = builder.insert_element(
            ir.Constant(ir.VectorType(ir.IntType(64), n), ir.Undefined), args[0],
            ir.Constant(_I32, 0))
        limit = builder.shuffle_vector(limit, limit, ir.Constant(ir.VectorType(_I32, n), [0] * n))
        return builder.icmp_signed("<", index, limit)

    return Mask(n)(types.int64, count), codegen


@intrinsic
def mask_of(typingctx, bits, like):
    """The mask (as wide as the mask ``like``) whose lane ``k`` is bit ``k`` of ``bits``."""
    n = like.count

    def codegen(context, builder, sig, args):
        bits = builder.trunc(args[0], ir.IntType(n))
        return builder.bitcast(bits, ir.VectorType(ir.IntType(1), n))

    return Mask(n)(types.int64, like), codegen


@intrinsic
def lanes_in(typingctx, mask):
    """How many lanes ``mask`` has."""
    n = mask.count

    def codegen(context, builder, sig, args):
        return ir.Constant(ir.IntType(64), n)

    return types.int64(mask), codegen


@intrinsic
def bits_of(typingctx, mask):
    """The integer whose bit ``k`` is lane ``k`` of ``mask``."""

    def codegen(context, builder, sig, args):
        return builder.zext(builder.bitcast(args[0], ir.IntType(mask.count)), ir.IntType(64))

    return types.int64(mask), codegen


@intrinsic
def load(typingctx, arr, row, col, mask):
    """``arr[row, col : col + count]`` as float64 lanes (0 outside ``mask``)."""
    if not (isinstance(arr, types.Array) and arr.ndim == 2 and isinstance(mask, Mask)):
        return None
    n = mask.count

    def codegen(context, builder, sig, args):
        element = context.get_value_type(sig.args[0].dtype)
        vec = ir.VectorType(element, n)
        ptr = builder.bitcast(_pointer(context, builder, sig.args[0], args[0], args[1], args[2]),
                              vec.as_pointer())
        name = f"llvm.masked.load.v{n}{'f64' if element == ir.DoubleType() else 'f32'}.p0"
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vec, [vec.as_pointer(), _I32, args[3].type, vec]), name)
        align = ir.Constant(_I32, sig.args[0].dtype.bitwidth // 8)
        value = builder.call(fn, [ptr, align, args[3], ir.Constant(vec, None)])
        return value if element == ir.DoubleType() else builder.fpext(value, _doubles(n))

    return Lanes(n)(arr, types.intp, types.intp, mask), codegen


@intrinsic
def load_stored(typingctx, arr, row, col, mask):
    """As :func:`load`, in the array's own float type (no widening)."""
    if not (isinstance(arr, types.Array) and arr.ndim == 2 and isinstance(mask, Mask)
            and isinstance(arr.dtype, types.Float)):
        return None
    lanes = Lanes(mask.count, arr.dtype)

    def codegen(context, builder, sig, args):
        vec = _vector(lanes.dtype, lanes.count)
        ptr = builder.bitcast(_pointer(context, builder, sig.args[0], args[0], args[1], args[2]),
                              vec.as_pointer())
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vec, [vec.as_pointer(), _I32, args[3].type, vec]),
            f"llvm.masked.load.{_suffix(lanes.dtype, lanes.count)}.p0")
        align = ir.Constant(_I32, lanes.dtype.bitwidth // 8)
        return builder.call(fn, [ptr, align, args[3], ir.Constant(vec, None)])

    return lanes(arr, types.intp, types.intp, mask), codegen


@intrinsic
def store(typingctx, arr, row, col, value, mask):
    """``arr[row, col : col + count] = value`` in the lanes of ``mask`` (``arr`` of the lanes'
    float type)."""
    if not (isinstance(arr, types.Array) and isinstance(value, Lanes) and arr.ndim == 2
            and arr.dtype == value.dtype):
        return None

    def codegen(context, builder, sig, args):
        vec = _vector(value.dtype, value.count)
        ptr = builder.bitcast(_pointer(context, builder, sig.args[0], args[0], args[1], args[2]),
                              vec.as_pointer())
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [vec, vec.as_pointer(), _I32,
                                                             args[4].type]),
            f"llvm.masked.store.{_suffix(value.dtype, value.count)}.p0")
        builder.call(fn, [args[3], ptr, ir.Constant(_I32, value.dtype.bitwidth // 8), args[4]])
        return context.get_dummy_value()

    return types.none(arr, types.intp, types.intp, value, mask), codegen


@intrinsic
def splat(typingctx, value, like):
    """``value`` in every lane: float64 lanes as many as the mask ``like`` has, or lanes of the
    Lanes type of ``like``."""
    shape = like if isinstance(like, Lanes) else Lanes(like.count)

    def codegen(context, builder, sig, args):
        return _as_lanes(context, builder, sig.args[0], args[0], shape)

    return shape(value, like), codegen


def _lanewise(build, returns_mask=False):
    """An intrinsic ``f(a, b)`` over two Lanes, or a Lanes and a scalar (either side)."""

    @intrinsic
    def lanewise(typingctx, a, b):
        shape = a if isinstance(a, Lanes) else b
        if not isinstance(shape, Lanes) or (isinstance(a, Lanes) and isinstance(b, Lanes)
                                            and a != b):
            return None

        def codegen(context, builder, sig, args):
            x, y = (
                _as_lanes(context, builder, ty, v, shape)
                for ty, v in zip(sig.args, args, strict=True)
            )
            return build(builder, x, y)

        return (Mask(shape.count) if returns_mask else shape)(a, b), codegen

    return lanewise


add = _lanewise(lambda b, x, y: b.fadd(x, y))
sub = _lanewise(lambda b, x, y: b.fsub(x, y))
mul = _lanewise(lambda b, x, y: b.fmul(x, y))
minimum = _lanewise(lambda b, x, y: b.select(b.fcmp_ordered("<", y, x), y, x))
"""``min(x, y)`` as Python (and Numba) give it: ``y`` only when it is smaller."""
maximum = _lanewise(lambda b, x, y: b.select(b.fcmp_ordered(">", y, x), y, x))
"""``max(x, y)``: ``y`` only when it is larger."""
lt = _lanewise(lambda b, x, y: b.fcmp_ordered("<", x, y), returns_mask=True)
le = _lanewise(lambda b, x, y: b.fcmp_ordered("<=", x, y), returns_mask=True)
gt = _lanewise(lambda b, x, y: b.fcmp_ordered(">", x, y), returns_mask=True)
ge = _lanewise(lambda b, x, y: b.fcmp_ordered(">=", x, y), returns_mask=True)


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` rounded once, lane by lane (scalars are broadcast; one of the three must be
    Lanes, and all Lanes alike)."""
    shapes = {ty for ty in (a, b, c) if isinstance(ty, Lanes)}
    if len(shapes) != 1:
        return None
    shape = shapes.pop()

    def codegen(context, builder, sig, args):
        vec = _vector(shape.dtype, shape.count)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vec, [vec, vec, vec]),
            f"llvm.fma.{_suffix(shape.dtype, shape.count)}")
        return builder.call(fn, [_as_lanes(context, builder, ty, v, shape)
                                 for ty, v in zip(sig.args, args, strict=True)])

    return shape(a, b, c), codegen


@intrinsic
def absolute(typingctx, a):
    """``abs`` of every lane."""

    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(args[0].type, [args[0].type]),
            f"llvm.fabs.{_suffix(a.dtype, a.count)}")
        return builder.call(fn, [args[0]])

    return a(a), codegen


@intrinsic
def both(typingctx, a, b):
    """Lanes set in ``a`` and in ``b``."""

    def codegen(context, builder, sig, args):
        return builder.and_(args[0], args[1])

    return a(a, b), codegen


@intrinsic
def but_not(typingctx, a, b):
    """Lanes set in ``a`` and not in ``b``."""

    def codegen(context, builder, sig, args):
        return builder.and_(args[0], builder.not_(args[1]))

    return a(a, b), codegen


@intrinsic
def where(typingctx, mask, a, b):
    """``a`` in the lanes of ``mask``, ``b`` in the others."""
    if not isinstance(a, Lanes):
        return None

    def codegen(context, builder, sig, args):
        return builder.select(*args)

    return a(mask, a, b), codegen


@intrinsic
def count_where(typingctx, counts, mask):
    """``counts`` plus one in the lanes of ``mask``."""

    def codegen(context, builder, sig, args):
        one = ir.Constant(_vector(counts.dtype, counts.count), [1.0] * counts.count)
        return builder.select(args[1], builder.fadd(args[0], one), args[0])

    return counts(counts, mask), codegen


@intrinsic
def take(typingctx, table, index, mask):
    """``table[index]`` lane by lane (``table`` a 1-D float64 array, ``index`` whole numbers
    held as float64), in the lanes of ``mask``; 0 in the others."""
    if not (isinstance(table, types.Array) and table.ndim == 1 and isinstance(index, Lanes)):
        return None
    n = index.count

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        base = builder.ptrtoint(ary.data, ir.IntType(64))
        stride = builder.extract_value(ary.strides, 0)
        ints = ir.VectorType(ir.IntType(64), n)
        at = builder.fptosi(args[1], ints)
        at = builder.select(args[2], at, ir.Constant(ints, [0] * n))  # lanes outside: row 0
        out = ir.Constant(_doubles(n), [0.0] * n)
        for k in range(n):
            lane = ir.Constant(_I32, k)
            offset = builder.mul(builder.extract_element(at, lane), stride)
            ptr = builder.inttoptr(builder.add(base, offset), ir.DoubleType().as_pointer())
            out = builder.insert_element(out, builder.load(ptr), lane)
        return out

    return Lanes(n)(table, index, mask), codegen


@intrinsic
def next_up(typingctx, a):
    """The next float64 above each lane, for lanes that hold positive finite numbers or zero
    (``np.nextafter(x, inf)`` there)."""

    def codegen(context, builder, sig, args):
        ints = ir.VectorType(ir.IntType(64), a.count)
        bits = builder.bitcast(args[0], ints)
        return builder.bitcast(builder.add(bits, ir.Constant(ints, [1] * a.count)), args[0].type)

    return a(a), codegen
