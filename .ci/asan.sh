#!/usr/bin/env bash
# CI job (issue 15): a short seeded fuzz pass (test/fuzz/) on the normal build, then the addon built a third time
# with AddressSanitizer + UndefinedBehaviorSanitizer and the test files that drive native code and another seeded
# fuzz pass run against it. Any sanitizer report fails the job:
# halt_on_error makes the reporting process exit non-zero (vitest and the fuzzer fail on that), and, because a
# report from a worker thread or a child process could still be swallowed by whoever started it, the whole output
# is scanned for report headers as a backstop.
#
# Noise: no report is suppressed; two settings keep pocl's side quiet, for these reasons:
# - use_sigaltstack=0. pocl compiles kernels with LLVM, whose CreateSigAltStack (llvm/lib/Support/Unix/Signals.inc)
#   replaces the alternate signal stack ASan gave the thread with a malloc'ed one of MINSIGSTKSZ + 64 KiB. When that
#   thread exits, ASan's teardown munmaps the stack it finds there and dies with the runtime CHECK "unable to unmap"
#   ("failed to deallocate 0x134c0 (79040) bytes": 13504 + 65536, glibc's dynamic MINSIGSTKSZ here plus LLVM's
#   64 KiB). Seen in every run of opencl.test.ts's worker test, gone with this option; not our memory. The cost: a
#   stack overflow shows as a plain SIGSEGV instead of an ASan report, which fails the job all the same.
# - pocl itself is not instrumented: its own loads and stores are invisible to ASan (a bad access there shows as a
#   plain SIGSEGV, which the fuzzer reports with its case); its memcpy calls go through ASan's interceptor, so a
#   transfer into freed or poisoned host memory is reported.
# - Async work stages typed arrays in native blocks that are cached for reuse (native/common/memory.cc); in this build
#   a cached block is poisoned, so work still touching a block after it went back is a report, not a silent reuse.
# Two tests assert RSS thresholds, which ASan's shadow memory and quarantine make meaningless; they are left out
# here (SKIP_UNDER_ASAN) and run in the other passes of .ci/run.
#
# Time: fuzz 45 s + build ~2 min + tests ~2 min + fuzz 60 s on 2 cores; the job prints its duration.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
started=$SECONDS
status=0

# First the fuzz smoke on the normal build (the prebuild .ci/run just tested), so one line in .ci/run runs both.
HOTPATH_BACKEND=native node test/fuzz/run.mjs --seconds "${FUZZ_SECONDS:-45}" --seed "${FUZZ_SEED:-15}" || status=1
echo "asan: normal-build fuzz done at $((SECONDS - started)) s"
out="$root/build-asan"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Flags through the build type: cmake-js overwrites CMAKE_CXX_FLAGS (the target's own -O3 still applies).
node_modules/.bin/cmake-js compile --out "$out" --CDCMAKE_BUILD_TYPE=RelWithDebInfo \
  --CDCMAKE_CXX_FLAGS_RELWITHDEBINFO="-g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
  --CDCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >"$log" 2>&1 || { cat "$log"; exit 1; }
addon="$out/Release/hotpath.node"
echo "asan: built $addon in $((SECONDS - started)) s"

# Only node gets the sanitizer runtimes (preloaded: node itself is not instrumented); the shell and npm do not.
sanitized() {
  env LD_PRELOAD="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libubsan.so)" \
    ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:use_sigaltstack=0" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
    HOTPATH_NATIVE_PATH="$addon" HOTPATH_BACKEND=native "$@"
}

# The test files that call into the addon (the pure-TS-only suites would only be slower here), and issue 15's
# regression tests (test/safety-*.test.ts).
shopt -s nullglob
native_tests=(
  test/native-binding.test.ts test/moments.test.ts test/expr.test.ts test/expr-vectorize.test.ts
  test/expr-ndarray.test.ts
  test/countmin.test.ts test/countmin-topk.test.ts test/parallel.test.ts test/memprof.test.ts
  test/opencl.test.ts test/opencl-evaluate.test.ts test/opencl-snippets.test.ts test/safety-*.test.ts
)
shopt -u nullglob
SKIP_UNDER_ASAN='sees a 200 MB Float64Array at its peak|does not grow RSS over 10k buffers|that a vm timeout cut off'
sanitized node node_modules/vitest/vitest.mjs run "${native_tests[@]}" -t "^(?!.*(${SKIP_UNDER_ASAN})).*$" 2>&1 | tee "$log" || status=1
report='ERROR: AddressSanitizer|ERROR: LeakSanitizer|AddressSanitizer CHECK failed|runtime error:'
if grep -E -q "$report" "$log"; then
  echo "asan: sanitizer report in the test output:"
  grep -E -n -A3 "$report" "$log" | head -40
  status=1
fi
echo "asan: tests done at $((SECONDS - started)) s"
# The fuzzer scans each child's output for the same headers itself (and reports the case that printed one).
sanitized node test/fuzz/run.mjs --seconds "${ASAN_FUZZ_SECONDS:-60}" --seed "${ASAN_FUZZ_SEED:-15}" || status=1
echo "asan: job took $((SECONDS - started)) s (status $status)"
exit $status
