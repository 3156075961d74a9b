// The id vocabulary: page_id, epoch, producer_id, sequence_no, txn_id.
#pragma once

#include <mmsb/core/strong_id.hpp>

#include <cstdint>

namespace mmsb {

struct page_id_tag { static constexpr const char* name = "page"; };
struct epoch_tag { static constexpr const char* name = "epoch"; };
struct producer_id_tag { static constexpr const char* name = "producer"; };
struct sequence_no_tag { static constexpr const char* name = "sequence"; };
struct txn_id_tag { static constexpr const char* name = "transaction"; };

// 32 bits: 4 Gi pages of 4 KiB is 16 TiB of state, and columnar delta batches stay narrow.
using page_id = strong_id<page_id_tag, std::uint32_t>;
// The version of a page's (or the bus's) last committed change. 0 is "never written".
using epoch = strong_id<epoch_tag, std::uint64_t>;
// Who produced a delta, and its position in that producer's stream. Together with the epoch
// they form the fixed order (epoch, producer, sequence) inside a tick; arrival time never counts.
using producer_id = strong_id<producer_id_tag, std::uint32_t>;
using sequence_no = strong_id<sequence_no_tag, std::uint64_t>;
using txn_id = strong_id<txn_id_tag, std::uint64_t>;

static_assert(sizeof(page_id) == 4 && std::is_trivially_copyable_v<page_id>);
static_assert(sizeof(epoch) == 8 && std::is_trivially_copyable_v<epoch>);

} // namespace mmsb
