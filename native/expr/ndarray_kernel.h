// n-d evaluation over the flat expression VM (issue 18, "Shapes"): inputs are strided, broadcast views
// (stride 0 along broadcast dimensions) of one C-order result shape. Rows (of dimension 0, or of the first
// few dimensions when dimension 0 is shorter than the threads want) are split over the shared thread
// pool; each task walks its rows in cache-sized chunks, reads every input in place
// when the chunk is contiguous in it, as a scalar when the chunk reads one element, or else gathers it
// into task-local scratch, runs expr::Run on one thread over the chunk, and reduces `axis=` outputs
// straight into their results. The pure-TS twin is src/lang/ndarray.ts + the chunked path of
// src/expr/program.ts; axis reductions follow its reduceAxis exactly (float64 accumulation in the same
// order: eight lanes along a contiguous axis for sum/prod, else sequential; NaN-propagating min/max, NaN
// for min/max over an empty axis, mean = sum / extent), so both backends give the same bits (but for axis 0
// on several threads: each task folds its rows, then the tasks' partial results are folded in task order).
// Plain C++: no N-API here (ndarray_binding.cc).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "expr_kernel.h"

namespace hotpath::expr {

// Reduction of an elementwise program output along one axis of the shape.
enum class AxisReduction : int32_t { kNone = 0, kSum = 1, kProd = 2, kMin = 3, kMax = 4, kMean = 5 };

struct NdInput {
  Input element;             // kind; data = element 0 of the array (unused for scalars), scalar value
  size_t elementSize = 0;    // bytes per element (arrays)
  size_t length = 0;         // elements in the array: every element the view reads must lie below it
  std::vector<int64_t> strides;  // elements, one per result dimension (0 where broadcast)
  int64_t offset = 0;
};

struct NdOutput {
  void* elementwise = nullptr;  // the C-order result of every element (double or float), or null
  AxisReduction reduction = AxisReduction::kNone;
  int32_t axis = 0;
  double* reduced = nullptr;  // the C-order result of the shape without `axis`
  size_t reducedLength = 0;
};

// The most result elements and dimensions (ndarray.ts: MAX_ELEMENTS, MAX_DIMENSIONS).
constexpr size_t kNdMaxElements = size_t{1} << 32;
constexpr size_t kNdMaxDimensions = 64;

// Checks shape, strides, offsets and every read against each array's length, and every output against
// the program and the shape; throws hotpath::RangeError naming the problem. RunNd calls it first.
void CheckNd(const Program& program, const std::vector<NdInput>& inputs, const std::vector<size_t>& shape,
             const std::vector<NdOutput>& outputs);

// Evaluates `program` over `shape` (at least one dimension). Elementwise outputs are written to
// `elementwise`, axis outputs reduced into `reduced`; reductions[k] receives the raw accumulator of each
// full reduction output (as expr::Run). options.threads threads of the shared pool, the caller included.
void RunNd(const Program& program, const std::vector<NdInput>& inputs, const std::vector<size_t>& shape,
           const std::vector<NdOutput>& outputs, const RunOptions& options, double* reductions);

}  // namespace hotpath::expr
