// Compiled with MMSB_ENABLE_ASSERTIONS=0: contracts vanish and do not evaluate their expression.
#include <mmsb/config/assert.hpp>

#include <catch2/catch.hpp>

static_assert(MMSB_ENABLE_ASSERTIONS == 0);

TEST_CASE("disabled contracts neither evaluate nor abort")
{
  int evaluated = 0;
  MMSB_EXPECTS(++evaluated == 100);
  MMSB_ASSERT(++evaluated == 100);
  CHECK(evaluated == 0);
}
