# The sanitizer and fuzz builds as two ctest steps of the main build, so the
# README's "every test" command (ctest -LE bench) runs them too:
#
#   sanitize_unit_tests (label sanitize): tests/sanitize.sh in
#     <build>/sanitize: clang, -DDMKIT_SANITIZE=ON, the host unit suite
#     (ctest -L unit) under ASan+UBSan+LSan.
#   fuzz_bursts (label fuzz): tests/fuzz/run.sh in <build>/fuzz: clang,
#     -DDMKIT_FUZZ=ON, every fuzz target for DMKIT_FUZZ_SECONDS.
#
# Each is a separate CMake build (other compiler and flags than this one);
# both are incremental after their first run. Turn them off with
# -DDMKIT_HARDENING_TESTS=OFF, or skip them with ctest -LE 'sanitize|fuzz'.
add_test(NAME sanitize_unit_tests
         COMMAND ${PROJECT_SOURCE_DIR}/tests/sanitize.sh ${CMAKE_BINARY_DIR}/sanitize)
set_tests_properties(sanitize_unit_tests PROPERTIES LABELS sanitize TIMEOUT 1500)
# Every target for DMKIT_FUZZ_SECONDS (tests/fuzz/CMakeLists.txt, 10 s by
# default), two at a time: with 14 targets about 90 s of fuzzing after the
# clang build.
add_test(NAME fuzz_bursts
         COMMAND ${PROJECT_SOURCE_DIR}/tests/fuzz/run.sh ${CMAKE_BINARY_DIR}/fuzz)
set_tests_properties(fuzz_bursts PROPERTIES LABELS fuzz TIMEOUT 1500)
