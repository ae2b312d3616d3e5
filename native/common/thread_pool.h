// A process-wide pool of worker threads, created once on first use and reused by every call of the
// expression VM and the moments kernel (no thread creation per call, so no call can fail half-way
// through starting threads). ParallelFor hands out task indices from an atomic counter; the
// calling thread works too, so nested or concurrent callers (sync calls, AsyncWorkers, several
// Node workers) always make progress even when every pool thread is busy.
#pragma once
#include <cstddef>
#include <functional>

namespace hotpath {

// Runs task(0..tasks-1) on at most `threads` threads (the caller included). Rethrows the first
// exception a task threw, after every task has finished.
void ParallelFor(size_t tasks, unsigned threads, const std::function<void(size_t)>& task);

}  // namespace hotpath
