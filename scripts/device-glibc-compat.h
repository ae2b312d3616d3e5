// Force-included (-include) by scripts/device-build-addon.sh only: binds the glibc symbols whose
// default version is newer than 2.17 to their old versions, so the addon built on this Debian 12
// machine (glibc 2.36) also loads on the older distributions GPU machines run. The old versions have
// the same results (newer ones dropped errno wrappers or moved libdl/libpthread into libc).
#pragma once
#if defined(__x86_64__) && defined(__linux__)
#define HOTPATH_OLD_SYMBOL(name) __asm__(".symver " #name "," #name "@GLIBC_2.2.5");
HOTPATH_OLD_SYMBOL(exp)
HOTPATH_OLD_SYMBOL(log)
HOTPATH_OLD_SYMBOL(pow)
HOTPATH_OLD_SYMBOL(log2)
HOTPATH_OLD_SYMBOL(exp2)
HOTPATH_OLD_SYMBOL(expf)
HOTPATH_OLD_SYMBOL(logf)
HOTPATH_OLD_SYMBOL(powf)
HOTPATH_OLD_SYMBOL(log2f)
HOTPATH_OLD_SYMBOL(exp2f)
HOTPATH_OLD_SYMBOL(hypot)
HOTPATH_OLD_SYMBOL(hypotf)
HOTPATH_OLD_SYMBOL(fmod)
HOTPATH_OLD_SYMBOL(fmodf)
HOTPATH_OLD_SYMBOL(dlopen)
HOTPATH_OLD_SYMBOL(dlsym)
HOTPATH_OLD_SYMBOL(dlerror)
HOTPATH_OLD_SYMBOL(dlclose)
HOTPATH_OLD_SYMBOL(pthread_once)
HOTPATH_OLD_SYMBOL(pthread_create)
HOTPATH_OLD_SYMBOL(pthread_join)
HOTPATH_OLD_SYMBOL(pthread_detach)
HOTPATH_OLD_SYMBOL(pthread_key_create)
HOTPATH_OLD_SYMBOL(pthread_key_delete)
HOTPATH_OLD_SYMBOL(pthread_getspecific)
HOTPATH_OLD_SYMBOL(pthread_setspecific)
HOTPATH_OLD_SYMBOL(pthread_sigmask)
#undef HOTPATH_OLD_SYMBOL
#endif
#if defined(__x86_64__) && defined(__linux__) && defined(__cplusplus)
// libstdc++ 3.4.30 (GCC 12) re-versioned condition_variable::wait; the 3.4.11 one is the same function.
__asm__(".symver _ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE,"
        "_ZNSt18condition_variable4waitERSt11unique_lockISt5mutexE@GLIBCXX_3.4.11");
#endif
