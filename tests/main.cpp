// The Catch2 (v2) test runner: every tests/test_*.cpp links into one binary, and ctest
// discovers each TEST_CASE by name, so a spec rule id in a test's name finds its proof.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
