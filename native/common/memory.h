// Native memory accounting shared by every kernel. Each allocation a kernel makes through these
// helpers is added to one process-wide counter (all threads and worker environments), which
// hotpath.nativeMemory() reads and memory profiles include. Plain C++: the allocations bindings make
// with an env, also reported to V8, are in napi_memory.h.
#pragma once
#include <cstddef>
#include <cstdint>

namespace hotpath::memory {

// Bytes held by tracked allocations right now.
int64_t LiveBytes();
// The highest LiveBytes() since the last ResetPeak(): catches allocations that come and go
// between two samples, or inside a synchronous call no JavaScript timer can interrupt.
int64_t PeakBytes();
void ResetPeak();

// Counted malloc/free, safe on any thread. Allocate throws std::bad_alloc (Guarded turns it into a
// RangeError). Release must get the byte count that was allocated.
void* Allocate(size_t bytes);
void Release(void* data, size_t bytes);

// Staging blocks for async work (AsyncArray): like Allocate/Release, but released blocks are kept
// for reuse by a later call of the same size, up to kStagingCacheBytes in all, so repeated async
// calls on large arrays don't pay the page faults of fresh memory each time (they cost more than
// the copy). Contents of a reused block are stale: callers overwrite every byte. Cached blocks are
// not counted in LiveBytes().
constexpr size_t kStagingCacheBytes = size_t{256} << 20;
void* TakeStaging(size_t bytes);
void GiveStaging(void* data, size_t bytes);

}  // namespace hotpath::memory
