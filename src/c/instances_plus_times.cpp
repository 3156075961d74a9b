// The C ABI's plus_times instantiations (see mmsb/c/mmsb.h for the table).
#include "bus_model.hpp"

namespace mmsb::capi {

std::span<const instance> instances_plus_times()
{
  static const instance table[] = {
    {"plus_times<f64>", MMSB_F64, 256, &make_bus<plus_times<double>, 256>},
    {"plus_times<f64>", MMSB_F64, 1024, &make_bus<plus_times<double>, 1024>},
    {"plus_times<f32>", MMSB_F32, 256, &make_bus<plus_times<float>, 256>},
    {"plus_times<f32>", MMSB_F32, 1024, &make_bus<plus_times<float>, 1024>},
    {"plus_times<i64>", MMSB_I64, 256, &make_bus<plus_times<std::int64_t>, 256>},
    {"plus_times<i64>", MMSB_I64, 1024, &make_bus<plus_times<std::int64_t>, 1024>},
  };
  return table;
}

} // namespace mmsb::capi
