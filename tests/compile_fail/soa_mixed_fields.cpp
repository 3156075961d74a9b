// expect: mmsb: soa<N, Fields...> needs fields of one value type
#include <mmsb/page/soa.hpp>

#include <cstdint>

#ifdef MMSB_COMPILE_FAIL
using layout = mmsb::soa<16, float, std::int32_t>;
#else
using layout = mmsb::soa<16, float, float>;
#endif

int main() { return static_cast<int>(layout::extent) - 32; }
