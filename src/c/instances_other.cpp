// The C ABI's max_min and or_and instantiations (see mmsb/c/mmsb.h for the table).
#include "bus_model.hpp"

namespace mmsb::capi {

std::span<const instance> instances_other()
{
  static const instance table[] = {
    {"max_min<f64>", MMSB_F64, 256, &make_bus<max_min<double>, 256>},
    {"max_min<f64>", MMSB_F64, 1024, &make_bus<max_min<double>, 1024>},
    {"or_and", MMSB_BOOL, 256, &make_bus<or_and, 256>},
    {"or_and", MMSB_BOOL, 1024, &make_bus<or_and, 1024>},
  };
  return table;
}

} // namespace mmsb::capi
