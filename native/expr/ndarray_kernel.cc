#include "ndarray_kernel.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "../common/errors.h"
#include "../common/thread_pool.h"

namespace hotpath::expr {
namespace {

// Elements per chunk: the gathered inputs and an axis output's values stay in L2 (as CHUNK_ELEMENTS in
// program.ts). Rows at least kRowElements long run one row per chunk, so a row-broadcast input is one
// scalar and a column-broadcast one is read in place, with nothing gathered.
constexpr size_t kChunkElements = size_t{1} << 16;
constexpr size_t kRowElements = 4096;
// Tasks per thread, so a thread slowed by other work on the machine does not hold up the call.
constexpr size_t kTasksPerThread = 4;

using Wide = __int128;

std::string Str(Wide value) {
  return std::to_string(static_cast<long long>(value));
}

// reduceAxis's accumulator step: min/max let NaN in and keep it (v < NaN is false).
template <AxisReduction R>
inline void Step(double& acc, double v) {
  if constexpr (R == AxisReduction::kSum || R == AxisReduction::kMean) acc += v;
  else if constexpr (R == AxisReduction::kProd) acc *= v;
  else if constexpr (R == AxisReduction::kMin) { if (v < acc || v != v) acc = v; }
  else { if (v > acc || v != v) acc = v; }
}

double AxisIdentity(AxisReduction r) {
  switch (r) {
    case AxisReduction::kProd: return 1;
    case AxisReduction::kMin: return std::numeric_limits<double>::infinity();
    case AxisReduction::kMax: return -std::numeric_limits<double>::infinity();
    default: return 0;
  }
}

constexpr bool Lanes(AxisReduction r) { return r == AxisReduction::kSum || r == AxisReduction::kProd; }

// One contiguous run folded as reduceAxis's laned loop: element i into lane i % 8 (the tail into lane 0),
// then the lanes in order, so the loop vectorizes and both backends round alike.
template <AxisReduction R, class T>
double LaneFold(const T* v, size_t extent) {
  constexpr size_t kLanes = 8;
  const double identity = R == AxisReduction::kProd ? 1 : 0;
  double lanes[kLanes];
  std::fill_n(lanes, kLanes, identity);
  const size_t body = extent - extent % kLanes;
  for (size_t i = 0; i < body; i += kLanes) {
    for (size_t l = 0; l < kLanes; ++l) Step<R>(lanes[l], static_cast<double>(v[i + l]));
  }
  for (size_t i = body; i < extent; ++i) Step<R>(lanes[0], static_cast<double>(v[i]));
  double acc = identity;
  for (size_t l = 0; l < kLanes; ++l) Step<R>(acc, lanes[l]);
  return acc;
}

// values (C order, outer × extent × inner) folded into result (outer × inner) as reduceAxis does: along
// a contiguous axis (inner 1) sum/prod by LaneFold and min/max sequentially, else row after row.
template <AxisReduction R, class T>
void ReduceInto(const T* values, double* result, size_t outer, size_t extent, size_t inner) {
  for (size_t o = 0; o < outer; ++o) {
    double* row = result + o * inner;
    if (inner == 1) {
      const T* v = values + o * extent;
      if constexpr (Lanes(R)) {
        Step<R>(*row, LaneFold<R>(v, extent));
      } else {
        double acc = *row;
        for (size_t l = 0; l < extent; ++l) Step<R>(acc, static_cast<double>(v[l]));
        *row = acc;
      }
      continue;
    }
    for (size_t l = 0; l < extent; ++l) {
      const T* v = values + (o * extent + l) * inner;
      for (size_t i = 0; i < inner; ++i) Step<R>(row[i], static_cast<double>(v[i]));
    }
  }
}

template <class T>
void Reduce(AxisReduction r, const T* values, double* result, size_t outer, size_t extent, size_t inner) {
  switch (r) {
    case AxisReduction::kSum:
    case AxisReduction::kMean: ReduceInto<AxisReduction::kSum>(values, result, outer, extent, inner); break;
    case AxisReduction::kProd: ReduceInto<AxisReduction::kProd>(values, result, outer, extent, inner); break;
    case AxisReduction::kMin: ReduceInto<AxisReduction::kMin>(values, result, outer, extent, inner); break;
    case AxisReduction::kMax: ReduceInto<AxisReduction::kMax>(values, result, outer, extent, inner); break;
    case AxisReduction::kNone: break;
  }
}

// A full reduction's accumulators of two ranges as one (program.ts combine(); the program's kinds).
double CombineFull(OutputKind kind, double a, double b) {
  switch (kind) {
    case OutputKind::kSum: return a + b;
    case OutputKind::kProd: return a * b;
    case OutputKind::kMin: return a != a || b != b ? std::numeric_limits<double>::quiet_NaN() : (b < a ? b : a);
    case OutputKind::kMax: return a != a || b != b ? std::numeric_limits<double>::quiet_NaN() : (b > a ? b : a);
    default: return a;
  }
}

double FullIdentity(OutputKind kind) {
  switch (kind) {
    case OutputKind::kProd: return 1;
    case OutputKind::kMin: return std::numeric_limits<double>::infinity();
    case OutputKind::kMax: return -std::numeric_limits<double>::infinity();
    default: return 0;
  }
}

// The element at `base` as a double, for the element kinds the VM reads; false for any other kind
// (then the input is gathered instead of read as a scalar).
bool ScalarAt(const Input& in, int64_t base, double* value) {
  switch (in.kind) {
    case InputKind::kFloat64: *value = static_cast<const double*>(in.data)[base]; return true;
    case InputKind::kFloat32: *value = static_cast<const float*>(in.data)[base]; return true;
    case InputKind::kInt32: *value = static_cast<const int32_t*>(in.data)[base]; return true;
    case InputKind::kInt8: *value = static_cast<const int8_t*>(in.data)[base]; return true;
    case InputKind::kUint8: *value = static_cast<const uint8_t*>(in.data)[base]; return true;
    case InputKind::kInt16: *value = static_cast<const int16_t*>(in.data)[base]; return true;
    case InputKind::kUint16: *value = static_cast<const uint16_t*>(in.data)[base]; return true;
    case InputKind::kUint32: *value = static_cast<const uint32_t*>(in.data)[base]; return true;
    default: return false;
  }
}

// Copies the view (C order over `shape`, element `base` first) into `out`: bit copies of E-sized
// elements, whole rows at memcpy / fill speed where the last dimension is contiguous or broadcast.
template <class E>
void GatherAs(const void* data, int64_t base, const size_t* shape, const int64_t* strides, size_t ndim, void* out) {
  const E* from = static_cast<const E*>(data);
  E* to = static_cast<E*>(out);
  const size_t last = shape[ndim - 1];
  const int64_t step = strides[ndim - 1];
  size_t rows = 1;
  for (size_t d = 0; d + 1 < ndim; ++d) rows *= shape[d];
  std::vector<size_t> index(ndim, 0);
  for (size_t r = 0; r < rows; ++r, to += last) {
    const E* row = from + base;
    if (step == 1) std::memcpy(to, row, last * sizeof(E));
    else if (step == 0) std::fill_n(to, last, *row);
    else for (size_t k = 0; k < last; ++k) to[k] = row[static_cast<int64_t>(k) * step];
    for (size_t d = ndim - 1; d-- > 0;) {
      base += strides[d];
      if (++index[d] < shape[d]) break;
      base -= strides[d] * static_cast<int64_t>(shape[d]);
      index[d] = 0;
    }
  }
}

void Gather(const NdInput& in, int64_t base, const size_t* shape, const int64_t* strides, size_t ndim, void* out) {
  switch (in.elementSize) {
    case 1: GatherAs<uint8_t>(in.element.data, base, shape, strides, ndim, out); break;
    case 2: GatherAs<uint16_t>(in.element.data, base, shape, strides, ndim, out); break;
    case 4: GatherAs<uint32_t>(in.element.data, base, shape, strides, ndim, out); break;
    default: GatherAs<uint64_t>(in.element.data, base, shape, strides, ndim, out); break;
  }
}

// How one chunk reads an input.
enum class Read { kInPlace, kScalar, kGather };

Read HowToRead(const size_t* shape, const int64_t* strides, size_t ndim) {
  bool constant = true;
  bool contiguous = true;
  int64_t expected = 1;
  for (size_t d = ndim; d-- > 0;) {
    if (shape[d] == 1) continue;
    if (strides[d] != 0) constant = false;
    if (strides[d] != expected) contiguous = false;
    expected *= static_cast<int64_t>(shape[d]);
  }
  if (contiguous) return Read::kInPlace;
  return constant ? Read::kScalar : Read::kGather;
}

// The work split: the first `rowDims` dimensions are walked as one row index (rows in all, each a C-order
// block of slab elements); a chunk is chunkRows consecutive rows, cut where dimension rowDims - 1 wraps, so
// each piece is a box [rows, shape[rowDims..]] of every view.
struct Layout {
  size_t n = 1, rowDims = 1, rows = 0, slab = 0, chunkRows = 0, chunks = 0;
};

}  // namespace

void CheckNd(const Program& program, const std::vector<NdInput>& inputs, const std::vector<size_t>& shape,
             const std::vector<NdOutput>& outputs) {
  const size_t ndim = shape.size();
  if (ndim == 0 || ndim > kNdMaxDimensions) throw RangeError("shape must have 1 to 64 dimensions");
  Wide n = 1;
  for (size_t extent : shape) {
    if (extent > kNdMaxElements) throw RangeError("shape extent out of range");
    n *= extent;
    if (n > static_cast<Wide>(kNdMaxElements)) throw RangeError("shape has too many elements");
  }
  if (inputs.size() != static_cast<size_t>(program.nInputs)) throw RangeError("inputs has the wrong length");
  if (outputs.size() != static_cast<size_t>(program.nOutputs)) throw RangeError("outputs has the wrong length");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const NdInput& in = inputs[i];
    if (in.element.kind == InputKind::kScalar) continue;
    const std::string name = "inputs[" + std::to_string(i) + "]";
    if (in.strides.size() != ndim) throw RangeError(name + " strides do not match the shape");
    const size_t size = in.elementSize;
    if (size != 1 && size != 2 && size != 4 && size != 8) throw RangeError(name + " has a bad element size");
    if (in.offset < 0) throw RangeError(name + " offset is negative");
    if (n == 0) continue;
    Wide low = in.offset, high = in.offset;
    for (size_t d = 0; d < ndim; ++d) {
      const Wide span = static_cast<Wide>(shape[d] - 1) * in.strides[d];
      (span < 0 ? low : high) += span;
    }
    if (low < 0 || high >= static_cast<Wide>(in.length)) {
      throw RangeError(name + " reads elements " + Str(low) + ".." + Str(high) + " but has " +
                       std::to_string(in.length));
    }
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    const NdOutput& out = outputs[k];
    const std::string name = "outputs[" + std::to_string(k) + "]";
    const bool elementwise = program.outputs[k].kind == OutputKind::kElementwise;
    if (!elementwise) {
      if (out.elementwise || out.reduction != AxisReduction::kNone) throw RangeError(name + " is a full reduction");
      continue;
    }
    if (out.reduction == AxisReduction::kNone) {
      if (!out.elementwise && n > 0) throw RangeError(name + " has no result array");
      continue;
    }
    if (out.elementwise) throw RangeError(name + " has both an elementwise and an axis result");
    if (out.reduction < AxisReduction::kSum || out.reduction > AxisReduction::kMean) {
      throw RangeError(name + " has a bad reduction");
    }
    if (out.axis < 0 || static_cast<size_t>(out.axis) >= ndim) throw RangeError(name + " axis is out of range");
    Wide reduced = 1;
    for (size_t d = 0; d < ndim; ++d) reduced *= d == static_cast<size_t>(out.axis) ? 1 : shape[d];
    if (reduced != static_cast<Wide>(out.reducedLength)) {
      throw RangeError(name + " reduced result has the wrong length");
    }
    if (out.reducedLength > 0 && !out.reduced) throw RangeError(name + " has no reduced result array");
  }
}

void RunNd(const Program& program, const std::vector<NdInput>& inputs, const std::vector<size_t>& shape,
           const std::vector<NdOutput>& outputs, const RunOptions& options, double* reductions) {
  CheckNd(program, inputs, shape, outputs);
  const size_t ndim = shape.size();
  const size_t nOutputs = outputs.size();
  Layout at;
  for (size_t extent : shape) at.n *= extent;
  for (size_t k = 0; k < nOutputs; ++k) {
    reductions[k] = program.outputs[k].kind == OutputKind::kElementwise ? std::numeric_limits<double>::quiet_NaN()
                                                                       : FullIdentity(program.outputs[k].kind);
    const NdOutput& out = outputs[k];
    if (out.reduction != AxisReduction::kNone) std::fill_n(out.reduced, out.reducedLength, AxisIdentity(out.reduction));
  }
  bool alongRows = false;  // an axis=0 output: tasks keep partial results, combined in task order
  for (const NdOutput& out : outputs) alongRows |= out.reduction != AxisReduction::kNone && out.axis == 0;
  if (at.n > 0) {
    const size_t threads = std::max(1u, options.threads);
    // Enough rows for every thread: more leading dimensions join the row index, up to the first reduced axis
    // (an axis reduction must see whole runs of its axis; axis 0 keeps one row dimension).
    size_t maxRowDims = ndim;
    for (const NdOutput& out : outputs) {
      if (out.reduction != AxisReduction::kNone) maxRowDims = std::min<size_t>(maxRowDims, std::max(out.axis, 1));
    }
    at.rows = shape[0];
    while (at.rowDims < maxRowDims && at.rows < threads * kTasksPerThread) at.rows *= shape[at.rowDims++];
    at.slab = at.n / at.rows;
    at.chunkRows = at.slab >= kRowElements ? 1 : std::min(at.rows, std::max<size_t>(1, kChunkElements / at.slab));
    at.chunks = (at.rows + at.chunkRows - 1) / at.chunkRows;
    const size_t tasks = std::min(at.chunks, alongRows ? threads : threads * kTasksPerThread);
    const size_t valueSize = options.float32 ? sizeof(float) : sizeof(double);
    const size_t line = shape[at.rowDims - 1];
    // Box dimensions: the rows (stepping along dimension rowDims - 1), then the dimensions after the rows.
    const size_t boxDims = 1 + ndim - at.rowDims;
    std::vector<std::vector<int64_t>> boxStrides(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::vector<int64_t>& strides = inputs[i].strides;
      if (inputs[i].element.kind != InputKind::kScalar) {
        boxStrides[i].assign(strides.begin() + static_cast<ptrdiff_t>(at.rowDims - 1), strides.end());
      }
    }
    // Per task: full-reduction accumulators, and a partial result of each axis=0 output.
    std::vector<double> partials(tasks * nOutputs);
    std::vector<std::vector<double>> rowPartials(alongRows ? tasks * nOutputs : 0);
    RunOptions one = options;
    one.threads = 1;
    auto task = [&](size_t t) {
      std::vector<std::vector<unsigned char>> gathered(inputs.size());
      std::vector<std::vector<unsigned char>> values(nOutputs);
      std::vector<Input> chunkInputs(inputs.size());
      std::vector<void*> chunkOutputs(nOutputs);
      std::vector<double> accumulators(nOutputs);
      double* partial = partials.data() + t * nOutputs;
      for (size_t k = 0; k < nOutputs; ++k) {
        partial[k] = reductions[k];
        const NdOutput& out = outputs[k];
        if (out.reduction != AxisReduction::kNone && out.axis == 0) {
          rowPartials[t * nOutputs + k].assign(out.reducedLength, AxisIdentity(out.reduction));
        }
      }
      std::vector<size_t> box(shape.begin() + static_cast<ptrdiff_t>(at.rowDims - 1), shape.end());
      const size_t rowsBegin = t * at.chunks / tasks * at.chunkRows;
      const size_t rowsEnd = std::min(at.rows, (t + 1) * at.chunks / tasks * at.chunkRows);
      for (size_t r0 = rowsBegin; r0 < rowsEnd; r0 += box[0]) {
        const size_t chunkEnd = std::min(rowsEnd, (r0 / at.chunkRows + 1) * at.chunkRows);
        box[0] = std::min(chunkEnd - r0, line - r0 % line);
        const size_t m = box[0] * at.slab;
        for (size_t i = 0; i < inputs.size(); ++i) {
          const NdInput& in = inputs[i];
          Input& chunkIn = chunkInputs[i];
          chunkIn = in.element;
          if (in.element.kind == InputKind::kScalar) continue;
          int64_t base = in.offset;
          for (size_t d = at.rowDims, rest = r0; d-- > 0; rest /= shape[d]) {
            base += static_cast<int64_t>(rest % shape[d]) * in.strides[d];
          }
          const Read read = HowToRead(box.data(), boxStrides[i].data(), boxDims);
          double scalar = 0;
          if (read == Read::kInPlace) {
            chunkIn.data = static_cast<const unsigned char*>(in.element.data) + base * in.elementSize;
          } else if (read == Read::kScalar && ScalarAt(in.element, base, &scalar)) {
            chunkIn.kind = InputKind::kScalar;
            chunkIn.scalar = scalar;
          } else {
            gathered[i].resize(at.chunkRows * at.slab * in.elementSize);
            Gather(in, base, box.data(), boxStrides[i].data(), boxDims, gathered[i].data());
            chunkIn.data = gathered[i].data();
          }
        }
        for (size_t k = 0; k < nOutputs; ++k) {
          const NdOutput& out = outputs[k];
          chunkOutputs[k] = nullptr;
          if (out.elementwise) {
            chunkOutputs[k] = static_cast<unsigned char*>(out.elementwise) + r0 * at.slab * valueSize;
          } else if (out.reduction != AxisReduction::kNone) {
            values[k].resize(at.chunkRows * at.slab * valueSize);
            chunkOutputs[k] = values[k].data();
          }
        }
        Run(program, chunkInputs, chunkOutputs, m, one, accumulators.data());
        for (size_t k = 0; k < nOutputs; ++k) {
          const OutputKind kind = program.outputs[k].kind;
          if (kind != OutputKind::kElementwise) partial[k] = CombineFull(kind, partial[k], accumulators[k]);
          const NdOutput& out = outputs[k];
          if (out.reduction == AxisReduction::kNone) continue;
          // The axis in box dimensions: 0 is the rows (axis 0, one row dimension), else after them.
          const size_t axis = out.axis == 0 ? 0 : static_cast<size_t>(out.axis) - at.rowDims + 1;
          size_t outer = 1, inner = 1;
          for (size_t d = 0; d < axis; ++d) outer *= box[d];
          for (size_t d = axis + 1; d < boxDims; ++d) inner *= box[d];
          // axis 0: these rows are a stretch of the axis, folded into the task's partial result.
          double* result = out.axis == 0 ? rowPartials[t * nOutputs + k].data()
                                         : out.reduced + r0 * (at.slab / box[axis]);
          const size_t extent = box[axis];
          if (options.float32) {
            Reduce(out.reduction, reinterpret_cast<const float*>(values[k].data()), result, outer, extent, inner);
          } else {
            Reduce(out.reduction, reinterpret_cast<const double*>(values[k].data()), result, outer, extent, inner);
          }
        }
      }
    };
    ParallelFor(tasks, options.threads, task);
    for (size_t k = 0; k < nOutputs; ++k) {
      const OutputKind kind = program.outputs[k].kind;
      if (kind != OutputKind::kElementwise) {
        for (size_t t = 0; t < tasks; ++t) reductions[k] = CombineFull(kind, reductions[k], partials[t * nOutputs + k]);
      }
      const NdOutput& out = outputs[k];
      if (out.reduction == AxisReduction::kNone || out.axis != 0) continue;
      for (size_t t = 0; t < tasks; ++t) {
        Reduce(out.reduction, rowPartials[t * nOutputs + k].data(), out.reduced, 1, 1, out.reducedLength);
      }
    }
  }
  // reduceAxis's finish: mean divides by the extent; min/max over an empty axis are NaN.
  for (const NdOutput& out : outputs) {
    if (out.reduction == AxisReduction::kNone) continue;
    const size_t extent = shape[static_cast<size_t>(out.axis)];
    if (out.reduction == AxisReduction::kMean) {
      for (size_t j = 0; j < out.reducedLength; ++j) out.reduced[j] /= static_cast<double>(extent);
    } else if (extent == 0 && (out.reduction == AxisReduction::kMin || out.reduction == AxisReduction::kMax)) {
      std::fill_n(out.reduced, out.reducedLength, std::numeric_limits<double>::quiet_NaN());
    }
  }
}

}  // namespace hotpath::expr
