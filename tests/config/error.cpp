#include <mmsb/config/error.hpp>

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <string_view>
#include <system_error>

TEST_CASE("mmsb::error carries its code and the full message")
{
  const mmsb::error e(mmsb::errc::unknown_page, "unknown page 42: it was destroyed at epoch 7");
  CHECK(e.code() == mmsb::errc::unknown_page);
  CHECK(std::string(e.what()) == "unknown page 42: it was destroyed at epoch 7");
  CHECK(e.error_code() == mmsb::errc::unknown_page);
  CHECK(e.error_code().category().name() == std::string("mmsb"));
  CHECK(e.error_code().message() == "unknown page");
}

TEST_CASE("every errc has a distinct name")
{
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(mmsb::errc::state_error); ++i) {
    const auto name = mmsb::to_string(static_cast<mmsb::errc>(i));
    CHECK(name != "unknown mmsb error");
    CHECK(names.insert(name).second);
  }
  CHECK(mmsb::to_string(static_cast<mmsb::errc>(999)) == "unknown mmsb error");
}

TEST_CASE("errc converts to std::error_code implicitly")
{
  const std::error_code ec = mmsb::errc::corrupt;
  CHECK(ec.value() == 9);
  CHECK(ec == mmsb::make_error_code(mmsb::errc::corrupt));
  CHECK(ec != mmsb::make_error_code(mmsb::errc::io_error));
}
