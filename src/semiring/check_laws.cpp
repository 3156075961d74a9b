// The law checker's random source (include/mmsb/semiring/check_laws.hpp): std::mt19937_64, kept
// here so that <random> stays out of the header.
#include <mmsb/semiring/check_laws.hpp>

#include <random>

namespace mmsb::detail {

struct law_rng::state {
  std::mt19937_64 engine;
};

law_rng::law_rng(std::uint64_t seed) : s_(std::make_unique<state>(state{std::mt19937_64(seed)})) {}
law_rng::~law_rng() = default;
std::uint64_t law_rng::operator()() { return s_->engine(); }

} // namespace mmsb::detail
