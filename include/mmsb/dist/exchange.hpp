// The MPI collectives the distributed bus uses (dist/mpi_bus.hpp; docs/distributed.md), over a
// communicator whose errors return (MPI_ERRORS_RETURN) so that they become mmsb::error. Every
// function here is collective: every rank of the communicator calls it, in the same order.
// Opt-in: needs MPI (meson: dependency('mpi', language: 'cpp')).
//
// Timeouts: each call is started nonblocking and waited for with a deadline (timeout_s > 0;
// 0 waits as long as MPI does). MPI cannot cancel a collective, and a rank that never arrives
// would leave the others waiting for ever, so past the deadline the job ends: the rank prints
// which call it waited in and for how long, then MPI_Abort (exit code 124) stops every rank.
#pragma once

#include <mmsb/config/error.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/dist/partition.hpp>

#include <mpi.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <thread>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace mmsb::dist::detail {

// Throws mmsb::error (io_error) naming the call and MPI's message when rc is not MPI_SUCCESS.
inline void check_mpi(int rc, const char* what)
{
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int n = 0;
  MPI_Error_string(rc, text, &n);
  throw error(errc::io_error, std::string("mpi: ") + what + " failed: " + std::string(text, static_cast<std::size_t>(n)));
}

// Waits for r. Past timeout_s seconds (when > 0) prints what it waited for on stderr and ends
// the job (MPI_Abort on comm, exit code 124): see the top of this header.
inline void wait_for(MPI_Request& r, MPI_Comm comm, double timeout_s, const char* what)
{
  if (timeout_s <= 0) {
    check_mpi(MPI_Wait(&r, MPI_STATUS_IGNORE), what);
    return;
  }
  const double began = MPI_Wtime();
  for (std::uint32_t polls = 0;; ++polls) {
    int done = 0;
    check_mpi(MPI_Test(&r, &done, MPI_STATUS_IGNORE), what);
    if (done != 0) return;
    if (MPI_Wtime() - began > timeout_s) {
      int rank = -1;
      MPI_Comm_rank(comm, &rank);
      std::fprintf(stderr,
                   "mmsb::dist: rank %d waited %.1f s in %s, past the bus's collective timeout (dist_options::collective_timeout): "
                   "another rank is gone or stuck; MPI cannot cancel a collective, so the job ends here\n",
                   rank, MPI_Wtime() - began, what);
      std::fflush(stderr);
      MPI_Abort(comm, 124);
    }
    if (polls >= 64) std::this_thread::yield();  // share the core with a rank it waits for
  }
}

// Starts a nonblocking MPI call (start(&request) returns its error code) and waits for it.
template <class Start>
void run(Start&& start, MPI_Comm comm, double timeout_s, const char* what)
{
  MPI_Request r = MPI_REQUEST_NULL;
  check_mpi(start(&r), what);
  wait_for(r, comm, timeout_s, what);
}

// A byte count as MPI's int; throws mmsb::error (out_of_range) naming `what` past 2 GiB.
inline int mpi_count(std::size_t bytes, const char* what)
{
  if (bytes > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw error(errc::out_of_range, std::string("mpi: ") + what + ": " + std::to_string(bytes) + " bytes in one message, more than MPI's int counts");
  return static_cast<int>(bytes);
}

// Every rank's `mine`, in rank order.
inline std::vector<std::string> allgather_text(MPI_Comm comm, const std::string& mine, int ranks, double timeout_s = 0)
{
  const int n = mpi_count(mine.size(), "allgather_text");
  std::vector<int> sizes(static_cast<std::size_t>(ranks)), at(static_cast<std::size_t>(ranks));
  run([&](MPI_Request* r) { return MPI_Iallgather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, comm, r); }, comm, timeout_s, "MPI_Iallgather");
  std::size_t total = 0;
  for (int r = 0; r < ranks; ++r) {
    at[static_cast<std::size_t>(r)] = mpi_count(total, "allgather_text");
    total += static_cast<std::size_t>(sizes[static_cast<std::size_t>(r)]);
  }
  std::string all(total, '\0');
  run([&](MPI_Request* r) { return MPI_Iallgatherv(mine.data(), n, MPI_CHAR, all.data(), sizes.data(), at.data(), MPI_CHAR, comm, r); },
      comm, timeout_s, "MPI_Iallgatherv");
  std::vector<std::string> out;
  for (int r = 0; r < ranks; ++r)
    out.push_back(all.substr(static_cast<std::size_t>(at[static_cast<std::size_t>(r)]), static_cast<std::size_t>(sizes[static_cast<std::size_t>(r)])));
  return out;
}

// Sends out[r] to every rank r other than `self` (this rank) and receives what every other rank
// sent this one into in (rank order), with from[r] the number of items from rank r (from[self]
// is 0: out[self] never passes through MPI; the caller keeps it). T is trivially copyable; sent
// as bytes. packed holds the items to send in one buffer; it, in and the count buffers keep
// their capacity, so a steady state allocates nothing.
template <class T>
void alltoallv(MPI_Comm comm, const std::vector<std::vector<T>>& out, std::size_t self, std::vector<T>& in, std::vector<int>& from,
               std::vector<int>& scratch, std::vector<T>& packed, double timeout_s = 0)
{
  static_assert(std::is_trivially_copyable_v<T>);
  const std::size_t ranks = out.size();
  // scratch: send counts, send displacements, receive counts, receive displacements (bytes).
  scratch.assign(4 * ranks, 0);
  int* send_n = scratch.data();
  int* send_at = send_n + ranks;
  int* recv_n = send_at + ranks;
  int* recv_at = recv_n + ranks;
  std::size_t total_out = 0;
  for (std::size_t r = 0; r < ranks; ++r) total_out += r == self ? 0 : out[r].size();
  packed.clear();
  packed.reserve(total_out + 1);  // never a null buffer
  for (std::size_t r = 0; r < ranks; ++r) {
    send_at[r] = mpi_count(packed.size() * sizeof(T), "alltoallv");
    if (r == self) continue;
    send_n[r] = mpi_count(out[r].size() * sizeof(T), "alltoallv");
    packed.insert(packed.end(), out[r].begin(), out[r].end());
  }
  run([&](MPI_Request* r) { return MPI_Ialltoall(send_n, 1, MPI_INT, recv_n, 1, MPI_INT, comm, r); }, comm, timeout_s, "MPI_Ialltoall");
  std::size_t total_in = 0;
  from.assign(ranks, 0);
  for (std::size_t r = 0; r < ranks; ++r) {
    recv_at[r] = mpi_count(total_in, "alltoallv");
    total_in += static_cast<std::size_t>(recv_n[r]);
    from[r] = recv_n[r] / static_cast<int>(sizeof(T));
  }
  in.resize(total_in / sizeof(T));
  in.reserve(in.size() + 1);
  run([&](MPI_Request* r) { return MPI_Ialltoallv(packed.data(), send_n, send_at, MPI_BYTE, in.data(), recv_n, recv_at, MPI_BYTE, comm, r); },
      comm, timeout_s, "MPI_Ialltoallv");
}

// Over a distributed graph topology (MPI_Dist_graph_create_adjacent): sends out[k] to the k-th
// out-neighbour and receives from every in-neighbour (indegree of them) into in, the k-th one's
// bytes at in[at[k], at[k] + from[k]). Counts first (MPI_Neighbor_alltoall), then the bytes
// (MPI_Neighbor_alltoallv). Every buffer keeps its capacity: a steady state allocates nothing.
inline void neighbor_alltoallv(MPI_Comm nbr, const std::vector<std::vector<std::byte>>& out, std::size_t indegree,
                               std::vector<std::byte>& in, std::vector<int>& from, std::vector<int>& at, std::vector<int>& scratch,
                               std::vector<std::byte>& packed, double timeout_s = 0)
{
  const std::size_t outdegree = out.size();
  scratch.assign(2 * outdegree + 1, 0);  // send counts, send displacements (one spare: never a null pointer)
  int* send_n = scratch.data();
  int* send_at = send_n + outdegree;
  std::size_t total = 0;
  for (const auto& o : out) total += o.size();
  packed.clear();
  packed.reserve(total);
  for (std::size_t k = 0; k < outdegree; ++k) {
    send_n[k] = mpi_count(out[k].size(), "neighbor_alltoallv");
    send_at[k] = mpi_count(packed.size(), "neighbor_alltoallv");
    packed.insert(packed.end(), out[k].begin(), out[k].end());
  }
  from.assign(indegree + 1, 0);
  at.assign(indegree + 1, 0);
  run([&](MPI_Request* r) { return MPI_Ineighbor_alltoall(send_n, 1, MPI_INT, from.data(), 1, MPI_INT, nbr, r); }, nbr, timeout_s,
      "MPI_Ineighbor_alltoall");
  std::size_t in_total = 0;
  for (std::size_t k = 0; k < indegree; ++k) {
    at[k] = mpi_count(in_total, "neighbor_alltoallv");
    in_total += static_cast<std::size_t>(from[k]);
  }
  in.resize(in_total + 1);
  run([&](MPI_Request* r) {
    return MPI_Ineighbor_alltoallv(packed.data(), send_n, send_at, MPI_BYTE, in.data(), from.data(), at.data(), MPI_BYTE, nbr, r);
  }, nbr, timeout_s, "MPI_Ineighbor_alltoallv");
}

// A sparse exchange over a distributed graph topology (MPI_Dist_graph_create_adjacent), as
// PETSc's star forests do: each rank sends only to its out-neighbours and receives only from its
// in-neighbours. connect() is collective; exchange() is collective over the ranks connected.
// Buffers keep their capacity: a steady state allocates nothing.
class neighbour_exchange {
public:
  neighbour_exchange() = default;
  neighbour_exchange(const neighbour_exchange&) = delete;
  neighbour_exchange& operator=(const neighbour_exchange&) = delete;
  ~neighbour_exchange()
  {
    if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  }

  // (Collective on comm.) Sends go to the ranks in `out`, receives come from those in `in` (any
  // order, repeats allowed); replaces an earlier topology.
  void connect(MPI_Comm comm, int ranks, std::vector<int> out, std::vector<int> in)
  {
    for (auto* v : {&out, &in}) {
      std::sort(v->begin(), v->end());
      v->erase(std::unique(v->begin(), v->end()), v->end());
    }
    if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
    check_mpi(MPI_Dist_graph_create_adjacent(comm, static_cast<int>(in.size()), in.data(), MPI_UNWEIGHTED, static_cast<int>(out.size()),
                                             out.data(), MPI_UNWEIGHTED, MPI_INFO_NULL, 0, &comm_),
              "MPI_Dist_graph_create_adjacent");
    check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    out_ = std::move(out);
    in_ = std::move(in);
    slot_.assign(static_cast<std::size_t>(ranks), -1);
    for (std::size_t k = 0; k < out_.size(); ++k) slot_[static_cast<std::size_t>(out_[k])] = static_cast<int>(k);
    to_.resize(out_.size());
  }
  // The outgoing buffer for `rank`, an out-neighbour.
  [[nodiscard]] std::vector<std::byte>& to(std::uint32_t rank) { return to_[static_cast<std::size_t>(slot_[rank])]; }
  // The out-neighbours.
  [[nodiscard]] std::size_t out_degree() const noexcept { return out_.size(); }
  // The in-neighbours.
  [[nodiscard]] std::size_t in_degree() const noexcept { return in_.size(); }
  // The k-th in-neighbour's rank (ascending).
  [[nodiscard]] int in_rank(std::size_t k) const noexcept { return in_[k]; }
  // What the k-th in-neighbour sent in the last exchange().
  [[nodiscard]] span<const std::byte> received(std::size_t k) const noexcept
  {
    return {in_bytes_.data() + at_[k], static_cast<std::size_t>(from_[k])};
  }
  // (Collective.) Sends every outgoing buffer, receives into received(), empties the buffers.
  void exchange(double timeout_s)
  {
    neighbor_alltoallv(comm_, to_, in_.size(), in_bytes_, from_, at_, scratch_, packed_, timeout_s);
    for (auto& o : to_) o.clear();
  }

private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  std::vector<int> out_, in_, slot_;  // slot_: by rank, its place in out_ (-1: none)
  std::vector<std::vector<std::byte>> to_;
  std::vector<std::byte> packed_, in_bytes_;
  std::vector<int> scratch_, from_, at_;
};

// Start-up: every rank gathers every rank's description (`mine`) and refuses, with the same
// message, when any differs from rank 0's, or when the description is for `planned` ranks and
// the communicator has another number.
inline void agree_at_start(MPI_Comm comm, int ranks, double timeout_s, const std::string& mine, std::uint32_t planned)
{
  const auto all = allgather_text(comm, mine, ranks, timeout_s);
  for (int k = 1; k < ranks; ++k)
    if (all[static_cast<std::size_t>(k)] != all[0])
      throw error(errc::invalid_argument, "mpi_bus: the ranks disagree at start-up: rank 0 has " + all[0] + "; rank " + std::to_string(k) +
                                            " has " + all[static_cast<std::size_t>(k)]);
  if (planned != static_cast<std::uint32_t>(ranks))
    throw error(errc::invalid_argument, "mpi_bus: the partition is for " + std::to_string(planned) + " ranks, but the communicator has " +
                                          std::to_string(ranks));
}

// Every rank throws mmsb::error(code) with the first rank's non-empty `why`, or none does.
inline void agree_or_throw(MPI_Comm comm, int ranks, double timeout_s, const std::string& why, errc code)
{
  for (const auto& w : allgather_text(comm, why, ranks, timeout_s))
    if (!w.empty()) throw error(code, w);
}

// The state hash of every page of a bus partitioned by parts, in global id order (as
// basic_bus::hash() hashes one bus holding them): rank 0 gathers each chunk of 1,024 pages
// (every rank's bytes_of(local index) of page_bytes bytes each) and hashes them; every rank gets
// the digest.
template <class BytesOf>
[[nodiscard]] state_hash gather_hash(MPI_Comm comm_, int rank_, const partition& parts_, double timeout_, std::size_t page_bytes,
                                     BytesOf&& bytes_of)
{
  const int ranks_ = static_cast<int>(parts_.ranks());
  const auto me = static_cast<std::uint32_t>(rank_);
  // The local ids [b, e) of rank k's pages with global ids in [c0, c1).
  const auto owned_in = [&](std::uint32_t k, std::uint32_t c0, std::uint32_t c1) {
    const auto& ids = parts_.owned(k);
    const auto lo = std::lower_bound(ids.begin(), ids.end(), page_id{c0});
    const auto hi = std::lower_bound(lo, ids.end(), page_id{c1});
    return std::pair<std::size_t, std::size_t>{static_cast<std::size_t>(lo - ids.begin()), static_cast<std::size_t>(hi - ids.begin())};
  };
  constexpr std::size_t chunk = 1024;
  std::vector<std::byte> mine, all;
  std::vector<int> counts(static_cast<std::size_t>(ranks_)), at(static_cast<std::size_t>(ranks_));
  state_hasher h;
  for (std::uint32_t c0 = 0; c0 < parts_.pages(); c0 += static_cast<std::uint32_t>(chunk)) {
    const std::uint32_t c1 = static_cast<std::uint32_t>(std::min<std::size_t>(parts_.pages(), c0 + chunk));
    std::size_t total = 0;
    for (int k = 0; k < ranks_; ++k) {
      const auto [b, e] = owned_in(static_cast<std::uint32_t>(k), c0, c1);
      counts[static_cast<std::size_t>(k)] = mpi_count((e - b) * page_bytes, "hash");
      at[static_cast<std::size_t>(k)] = mpi_count(total, "hash");
      total += (e - b) * page_bytes;
    }
    const auto [b, e] = owned_in(me, c0, c1);
    mine.clear();
    for (std::size_t i = b; i < e; ++i) {
      const auto bytes = bytes_of(i);
      mine.insert(mine.end(), bytes.begin(), bytes.end());
    }
    all.resize(rank_ == 0 ? total : 0);
    const int n = mpi_count(mine.size(), "hash");
    run([&](MPI_Request* q) { return MPI_Igatherv(mine.data(), n, MPI_BYTE, all.data(), counts.data(), at.data(), MPI_BYTE, 0, comm_, q); },
                comm_, timeout_, "MPI_Igatherv");
    if (rank_ != 0) continue;
    std::vector<std::size_t> next(static_cast<std::size_t>(ranks_), 0);
    for (std::uint32_t g = c0; g < c1; ++g) {
      const std::uint32_t k = parts_.owner(page_id{g});
      const std::size_t off = static_cast<std::size_t>(at[k]) + page_bytes * next[k]++;
      h.add(page_id{g}, span<const std::byte>(all.data() + off, page_bytes));
    }
  }
  std::uint64_t digest = rank_ == 0 ? h.digest().value : 0;
  run([&](MPI_Request* q) { return MPI_Ibcast(&digest, 1, MPI_UINT64_T, 0, comm_, q); }, comm_, timeout_, "MPI_Ibcast");
  return state_hash{digest};
}

} // namespace mmsb::dist::detail
