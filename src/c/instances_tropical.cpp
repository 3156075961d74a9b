// The C ABI's min_plus and max_plus instantiations (see mmsb/c/mmsb.h for the table).
#include "bus_model.hpp"

namespace mmsb::capi {

std::span<const instance> instances_tropical()
{
  static const instance table[] = {
    {"min_plus<f64>", MMSB_F64, 256, &make_bus<min_plus<double>, 256>},
    {"min_plus<f64>", MMSB_F64, 1024, &make_bus<min_plus<double>, 1024>},
    {"min_plus<f32>", MMSB_F32, 256, &make_bus<min_plus<float>, 256>},
    {"min_plus<f32>", MMSB_F32, 1024, &make_bus<min_plus<float>, 1024>},
    {"max_plus<f64>", MMSB_F64, 256, &make_bus<max_plus<double>, 256>},
    {"max_plus<f64>", MMSB_F64, 1024, &make_bus<max_plus<double>, 1024>},
  };
  return table;
}

} // namespace mmsb::capi
