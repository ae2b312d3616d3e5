# Sources, defines, include dirs and C++ flags come from native/sources.json and native/build-flags.json, which
# CMakeLists.txt and scripts/prebuild-cross.mjs (the bullseye, arm64 and Windows prebuilds) read too.
{
  "targets": [
    {
      "target_name": "hotpath",
      "sources": ["<!@(node -p \"require('./native/sources.json').join(' ')\")"],
      "include_dirs": [
        "<!@(node -p \"require('./native/build-flags.json').include_dirs.join(' ')\")",
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": ["<!@(node -p \"require('./native/build-flags.json').defines.join(' ')\")"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["<!@(node -p \"require('./native/build-flags.json').cflags_cc.join(' ')\")"],
      "ldflags": ["-pthread"],
      "conditions": [
        ["OS=='win'", {
          "include_dirs": ["<!@(node -p \"require('./native/build-flags.json').include_dirs_win32.join(' ')\")"]
        }]
      ],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-ffp-contract=off"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1 }
      }
    }
  ]
}
