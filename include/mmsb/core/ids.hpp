// The id vocabulary: page_id, epoch, producer_id, sequence_no, txn_id.
#pragma once

#include <mmsb/core/strong_id.hpp>

#include <cstdint>

namespace mmsb {

// The tag (kind) of page_id.
struct page_id_tag { static constexpr const char* name = "page"; };
// The tag (kind) of epoch.
struct epoch_tag { static constexpr const char* name = "epoch"; };
// The tag (kind) of producer_id.
struct producer_id_tag { static constexpr const char* name = "producer"; };
// The tag (kind) of sequence_no.
struct sequence_no_tag { static constexpr const char* name = "sequence"; };
// The tag (kind) of txn_id.
struct txn_id_tag { static constexpr const char* name = "transaction"; };
// (The tags' `name` members, for the API reference: one-line structs leave no room for a comment.)
/// @var page_id_tag::name
/// The word messages print before a page id's value ("page 42").
/// @var epoch_tag::name
/// The word messages print before an epoch's value ("epoch 7").
/// @var producer_id_tag::name
/// The word messages print before a producer id's value ("producer 3").
/// @var sequence_no_tag::name
/// The word messages print before a sequence number's value ("sequence 12").
/// @var txn_id_tag::name
/// The word messages print before a transaction id's value ("transaction 5").

// 32 bits: 4 Gi pages of 4 KiB is 16 TiB of state, and columnar delta batches stay narrow.
using page_id = strong_id<page_id_tag, std::uint32_t>;
// The version of a page's (or the bus's) last committed change. 0 is "never written".
using epoch = strong_id<epoch_tag, std::uint64_t>;
// Who produced a delta, and its position in that producer's stream. Together with the epoch
// they form the fixed order (epoch, producer, sequence) inside a tick; arrival time never counts.
using producer_id = strong_id<producer_id_tag, std::uint32_t>;
// A delta's position in its producer's stream (see producer_id above).
using sequence_no = strong_id<sequence_no_tag, std::uint64_t>;
// The transaction a write or log record belongs to: a store's commit uses its epoch's number,
// page_graph::apply(d, stamp) may give its own; 0 means none.
using txn_id = strong_id<txn_id_tag, std::uint64_t>;

static_assert(sizeof(page_id) == 4 && std::is_trivially_copyable_v<page_id>);
static_assert(sizeof(epoch) == 8 && std::is_trivially_copyable_v<epoch>);

} // namespace mmsb
