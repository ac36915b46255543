# Hardening builds (docs/hardening.md).
#
#   -DRAPI_SANITIZE=address   ASan + UBSan for the whole project (tests too)
#   -DRAPI_SANITIZE=thread    TSan for the whole project
#   -DRAPI_FUZZ=ON            the libFuzzer harnesses of tests/fuzz (clang
#                             only); everything else gets ASan + UBSan and
#                             the coverage instrumentation libFuzzer steers by
#
# The flags go on every target through add_compile_options/add_link_options,
# so this file must be included before the first add_subdirectory.
# Third-party libraries (CAF, RocksDB, rabbitmq-c, libstdc++) come from
# Debian and stay uninstrumented.

set(RAPI_SANITIZE "" CACHE STRING
  "Sanitizers for the whole build: address (ASan+UBSan), thread (TSan) or empty")
set_property(CACHE RAPI_SANITIZE PROPERTY STRINGS "" address thread)
option(RAPI_FUZZ "Build the libFuzzer harnesses of tests/fuzz (needs clang)" OFF)

set(RAPI_ASAN_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer
  -fno-sanitize-recover=all)
set(RAPI_TSAN_FLAGS -fsanitize=thread -fno-omit-frame-pointer)

if(RAPI_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "RAPI_FUZZ needs clang (libFuzzer): configure with "
      "-DCMAKE_CXX_COMPILER=clang++ (Debian package clang)")
  endif()
  if(RAPI_SANITIZE STREQUAL "thread")
    message(FATAL_ERROR "RAPI_FUZZ builds with ASan+UBSan; it cannot be "
      "combined with RAPI_SANITIZE=thread")
  endif()
endif()

# The sanitizers in effect: RAPI_FUZZ implies address.
set(RAPI_SANITIZERS "${RAPI_SANITIZE}")
if(RAPI_FUZZ)
  set(RAPI_SANITIZERS address)
endif()

if(RAPI_SANITIZERS STREQUAL "address")
  add_compile_options(${RAPI_ASAN_FLAGS})
  add_link_options(-fsanitize=address,undefined)
elseif(RAPI_SANITIZERS STREQUAL "thread")
  add_compile_options(${RAPI_TSAN_FLAGS})
  add_link_options(-fsanitize=thread)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC warns at every asio handler that TSan does not model
    # std::atomic_thread_fence: it then sees less order than there is,
    # which can add reports but never hide one.
    add_compile_options(-Wno-tsan)
  endif()
  # The few places that adapt to a TSan build test this.
  add_compile_definitions(RAPI_TSAN=1)
elseif(NOT RAPI_SANITIZERS STREQUAL "")
  message(FATAL_ERROR
    "RAPI_SANITIZE must be address, thread or empty, not '${RAPI_SANITIZE}'")
endif()

if(RAPI_FUZZ)
  # Coverage feedback from every library the harnesses reach, not only from
  # the harness itself; the harnesses add -fsanitize=fuzzer (libFuzzer's
  # main) on top.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(RAPI_FUZZ)
  message(STATUS "recording-api: ASan+UBSan build with libFuzzer harnesses")
elseif(RAPI_SANITIZE)
  message(STATUS "recording-api: sanitizer build (${RAPI_SANITIZE})")
endif()
