// Linked only into the GPU-machine bundle's addon (scripts/device-build-addon.sh). libstdc++'s headers
// read glibc 2.32's __libc_single_threaded to skip atomics in a single-threaded process; this hidden
// definition (always 0: "threads may exist", so atomics are always used, which is always correct)
// keeps the addon loadable on glibc 2.17 to 2.31; the same for one libstdc++ function below.
__attribute__((visibility("hidden"))) char __libc_single_threaded = 0;

// GCC 11's allocator headers call this libstdc++ 3.4.29 function; older libstdc++ lack it.
#include <new>
namespace std {
[[noreturn]] __attribute__((visibility("hidden"))) void __throw_bad_array_new_length() { throw bad_array_new_length(); }
}  // namespace std
