// A user's program built against an installed MMSB: it must need nothing but pkg-config.
#include <mmsb/mmsb.hpp>

#include <cstdio>

int main()
{
  using sr = mmsb::min_plus<float>;
  float x = 5.0f;
  x = mmsb::apply_element<sr>(x, false, 3.0f);
  mmsb::state_hasher h;
  h.add(mmsb::page_id{1}, mmsb::span<const std::byte>(reinterpret_cast<const std::byte*>(&x), sizeof x));
  std::printf("consumer: mmsb %s, x = %g, hash %016llx\n", MMSB_VERSION_STRING, static_cast<double>(x),
              static_cast<unsigned long long>(h.digest().value));
  return x == 3.0f ? 0 : 1;
}
