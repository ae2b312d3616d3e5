#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace hotpath {

// One ParallelFor call or BackgroundTask. Shared with the pool threads that join it, so a helper that
// wakes up after the call has returned still finds valid (and already exhausted) state.
struct PoolJob {
  const std::function<void(size_t)>* task;
  std::function<void(size_t)> owned;  // a BackgroundTask's task (task points here)
  size_t tasks;
  std::atomic<size_t> next{0};
  std::mutex mutex;
  std::condition_variable finished;
  size_t done = 0;
  std::exception_ptr error;

  // Claims and runs tasks until none are left.
  void Work() {
    size_t ran = 0;
    std::exception_ptr failure;
    for (size_t t = next.fetch_add(1); t < tasks; t = next.fetch_add(1)) {
      try {
        (*task)(t);
      } catch (...) {
        if (!failure) failure = std::current_exception();
      }
      ++ran;
    }
    if (ran == 0) return;
    std::lock_guard<std::mutex> lock(mutex);
    if (failure && !error) error = failure;
    done += ran;
    if (done == tasks) finished.notify_all();
  }

  // Works too, then waits until every task has finished; rethrows the first exception.
  void Join() {
    Work();
    std::unique_lock<std::mutex> lock(mutex);
    finished.wait(lock, [&] { return done == tasks; });
    if (error) std::rethrow_exception(error);
  }
};

namespace {

class Pool {
 public:
  Pool() {
    const unsigned helpers = std::max(1u, std::thread::hardware_concurrency()) - 1;
    for (unsigned i = 0; i < helpers; ++i) {
      try {
        std::thread([this] { Loop(); }).detach();
      } catch (const std::system_error&) {
        break;  // the OS refused another thread: run with the ones we have (callers work too)
      }
      ++size_;
    }
  }

  unsigned Size() const { return size_; }

  void Post(const std::shared_ptr<PoolJob>& job, unsigned copies) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (unsigned i = 0; i < copies; ++i) queue_.push_back(job);
    }
    if (copies == 1) wake_.notify_one(); else wake_.notify_all();
  }

 private:
  void Loop() {
    for (;;) {
      std::shared_ptr<PoolJob> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job->Work();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<PoolJob>> queue_;
  unsigned size_ = 0;
};

// Never destroyed: detached threads may still be waiting on it while the process exits.
Pool& Instance() {
  static Pool* pool = new Pool();
  return *pool;
}

}  // namespace

void ParallelFor(size_t tasks, unsigned threads, const std::function<void(size_t)>& task) {
  if (tasks == 0) return;
  const unsigned helpers =
      static_cast<unsigned>(std::min<size_t>({tasks - 1, threads > 0 ? threads - 1 : 0, Instance().Size()}));
  if (helpers == 0) {
    for (size_t t = 0; t < tasks; ++t) task(t);
    return;
  }
  auto job = std::make_shared<PoolJob>();
  job->task = &task;
  job->tasks = tasks;
  Instance().Post(job, helpers);
  job->Join();
}

BackgroundTask::BackgroundTask(std::function<void()> task) : job_(std::make_shared<PoolJob>()) {
  job_->owned = [task = std::move(task)](size_t) { task(); };
  job_->task = &job_->owned;
  job_->tasks = 1;
  if (Instance().Size() > 0) Instance().Post(job_, 1);  // else Join() runs it
}

BackgroundTask::~BackgroundTask() {
  try {
    Join();
  } catch (...) {  // the owner is going away without asking for the result: nobody to report it to
  }
}

void BackgroundTask::Join() {
  if (!job_) return;
  const auto job = std::move(job_);
  job->Join();
}

}  // namespace hotpath
