// A user's program built against an installed MMSB: it must need nothing but pkg-config. It uses
// a header-only part (apply_element, state_hasher) and a compiled part of libmmsb (record
// framing, memory_file_system), so both the headers and the library must be found.
#include <mmsb/mmsb.hpp>

#include <cstdio>
#include <vector>

int main()
{
  using sr = mmsb::min_plus<float>;
  float x = 5.0f;
  x = mmsb::apply_element<sr>(x, false, 3.0f);
  mmsb::state_hasher h;
  h.add(mmsb::page_id{1}, mmsb::span<const std::byte>(reinterpret_cast<const std::byte*>(&x), sizeof x));

  std::vector<std::byte> bytes;
  mmsb::encode_record(bytes, mmsb::record_type::commit, mmsb::epoch{1}, mmsb::txn_id{1},
                      mmsb::span<const std::byte>(reinterpret_cast<const std::byte*>(&x), sizeof x));
  mmsb::memory_file_system fs;
  const auto handle = fs.open("/record", mmsb::open_mode::create_new);
  fs.write_all(handle, bytes);
  fs.close(handle);
  mmsb::record_header header;
  mmsb::span<const std::byte> payload;
  const auto stored = fs.contents("/record");
  const auto fault = mmsb::check_record(
    mmsb::span<const std::byte>(reinterpret_cast<const std::byte*>(stored.data()), stored.size()), header, payload);

  std::printf("consumer: mmsb %s, x = %g, hash %016llx, record %s\n", MMSB_VERSION_STRING, static_cast<double>(x),
              static_cast<unsigned long long>(h.digest().value), mmsb::to_string(fault));
  return x == 3.0f && fault == mmsb::record_fault::none ? 0 : 1;
}
