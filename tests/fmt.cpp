#include <mmsb/core/ids.hpp>
#include <mmsb/fmt.hpp>

#include <catch2/catch.hpp>

TEST_CASE("fmt formats ids by value, honouring integer format specs")
{
  CHECK(fmt::format("{}", mmsb::page_id{42}) == "42");
  CHECK(fmt::format("{:>5}", mmsb::epoch{7}) == "    7");
  CHECK(fmt::format("{:x}", mmsb::page_id{255}) == "ff");
}

TEST_CASE("fmt formats errc by name and state hashes as 16 hex digits")
{
  CHECK(fmt::format("{}", mmsb::errc::unknown_page) == "unknown page");
  CHECK(fmt::format("{}", mmsb::state_hash{0xabc}) == "0000000000000abc");
}
