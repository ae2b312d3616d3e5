// Linked only into the GPU-machine bundle's addon (scripts/device-build-addon.sh). libstdc++'s headers
// read glibc 2.32's __libc_single_threaded to skip atomics in a single-threaded process; this hidden
// definition (always 0: "threads may exist", so atomics are always used, which is always correct)
// keeps the addon loadable on glibc 2.17 to 2.31.
__attribute__((visibility("hidden"))) char __libc_single_threaded = 0;
