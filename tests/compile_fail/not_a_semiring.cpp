// expect: mmsb: not a semiring: the type has no value_type
#include <mmsb/semiring/builtins.hpp>

#ifdef MMSB_COMPILE_FAIL
static_assert(mmsb::require_semiring<int>());
#else
static_assert(mmsb::require_semiring<mmsb::plus_times<int>>());
#endif

int main() { return 0; }
