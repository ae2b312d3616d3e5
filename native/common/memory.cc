#include "memory.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define HOTPATH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOTPATH_ASAN 1
#endif
#endif
// Under AddressSanitizer a cached staging block is poisoned until it is taken again: the cache would otherwise hide
// from ASan a use after free of staging memory (async work still writing a block that went back, issue 15).
#if HOTPATH_ASAN
#include <sanitizer/asan_interface.h>
#define PoisonCached(data, bytes) ASAN_POISON_MEMORY_REGION(data, bytes)
#define UnpoisonCached(data, bytes) ASAN_UNPOISON_MEMORY_REGION(data, bytes)
#else
#define PoisonCached(data, bytes) ((void)(data), (void)(bytes))
#define UnpoisonCached(data, bytes) ((void)(data), (void)(bytes))
#endif

namespace hotpath::memory {
namespace {

std::atomic<int64_t> liveBytes{0};
std::atomic<int64_t> peakBytes{0};

void RaisePeak(int64_t live) {
  int64_t peak = peakBytes.load(std::memory_order_relaxed);
  while (live > peak && !peakBytes.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
}

}  // namespace

int64_t LiveBytes() { return liveBytes.load(std::memory_order_relaxed); }

int64_t PeakBytes() { return peakBytes.load(std::memory_order_relaxed); }

void ResetPeak() { peakBytes.store(LiveBytes(), std::memory_order_relaxed); }

void* Allocate(size_t bytes) {
  // calloc: zero-filled storage (results start defined) that the OS maps lazily for large sizes.
  void* data = std::calloc(bytes == 0 ? 1 : bytes, 1);
  if (data == nullptr) throw std::bad_alloc();
  const int64_t signedBytes = static_cast<int64_t>(bytes);
  RaisePeak(liveBytes.fetch_add(signedBytes, std::memory_order_relaxed) + signedBytes);
  return data;
}

void Release(void* data, size_t bytes) {
  std::free(data);
  liveBytes.fetch_sub(static_cast<int64_t>(bytes), std::memory_order_relaxed);
}

namespace {

struct StagingCache {
  std::mutex mutex;
  std::vector<std::pair<size_t, void*>> blocks;  // (bytes, block), most recently given last
  size_t cachedBytes = 0;
};

// Never destroyed: an OpenCL driver thread gives a block back when a command completes, and that can happen while
// the process exits, after static destructors have run (a worker terminated with reads in flight, issue 15's fuzzer).
StagingCache& Staging() {
  static auto* cache = new StagingCache();
  return *cache;
}

}  // namespace

void* TakeStaging(size_t bytes) {
  {
    StagingCache& cache = Staging();
    std::lock_guard<std::mutex> lock(cache.mutex);
    for (size_t i = cache.blocks.size(); i-- > 0;) {
      if (cache.blocks[i].first != bytes) continue;
      void* data = cache.blocks[i].second;
      cache.blocks.erase(cache.blocks.begin() + static_cast<std::ptrdiff_t>(i));
      cache.cachedBytes -= bytes;
      UnpoisonCached(data, bytes);
      const int64_t signedBytes = static_cast<int64_t>(bytes);
      RaisePeak(liveBytes.fetch_add(signedBytes, std::memory_order_relaxed) + signedBytes);
      return data;
    }
  }
  return Allocate(bytes);
}

void GiveStaging(void* data, size_t bytes) {
  {
    StagingCache& cache = Staging();
    std::lock_guard<std::mutex> lock(cache.mutex);
    if (bytes > 0 && bytes <= kStagingCacheBytes) {
      // Make room by dropping the oldest blocks: recent sizes are the ones likely to come back.
      while (cache.cachedBytes + bytes > kStagingCacheBytes) {
        UnpoisonCached(cache.blocks.front().second, cache.blocks.front().first);
        std::free(cache.blocks.front().second);
        cache.cachedBytes -= cache.blocks.front().first;
        cache.blocks.erase(cache.blocks.begin());
      }
      PoisonCached(data, bytes);
      cache.blocks.emplace_back(bytes, data);
      cache.cachedBytes += bytes;
      liveBytes.fetch_sub(static_cast<int64_t>(bytes), std::memory_order_relaxed);
      return;
    }
  }
  Release(data, bytes);
}

}  // namespace hotpath::memory
