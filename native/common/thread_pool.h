// A process-wide pool of worker threads, created once on first use and reused by every call of the
// expression VM and the moments kernel (no thread creation per call, so no call can fail half-way
// through starting threads). ParallelFor hands out task indices from an atomic counter; the
// calling thread works too, so nested or concurrent callers (sync calls, AsyncWorkers, several
// Node workers) always make progress even when every pool thread is busy.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>

namespace hotpath {

// Runs task(0..tasks-1) on at most `threads` threads (the caller included). Rethrows the first
// exception a task threw, after every task has finished.
void ParallelFor(size_t tasks, unsigned threads, const std::function<void(size_t)>& task);

struct PoolJob;

// One task started on a pool thread now and joined later, so the caller can do other work meanwhile (the count-min
// pipeline hashes a batch while JavaScript packs the next). Join() runs the task on the calling thread if no pool
// thread has started it yet, so a pool busy with other work only delays it, never blocks it; then waits for it to
// finish and rethrows what it threw. The destructor joins (dropping any exception): the task may use memory of the
// object that owns this one until then.
class BackgroundTask {
 public:
  explicit BackgroundTask(std::function<void()> task);
  ~BackgroundTask();
  BackgroundTask(const BackgroundTask&) = delete;
  BackgroundTask& operator=(const BackgroundTask&) = delete;
  void Join();

 private:
  std::shared_ptr<PoolJob> job_;
};

}  // namespace hotpath
