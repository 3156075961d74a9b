// The state commands: replay (the state at an epoch and its hash), stat and diff (cli.hpp). The
// state is rebuilt without the store's C++ types by mmsb/bus/untyped_replay.hpp.
#include "cli.hpp"

#include <mmsb/bus/shape.hpp>
#include <mmsb/bus/untyped_replay.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/log/checkpoint.hpp>
#include <mmsb/log/log_reader.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <system_error>
#include <vector>

namespace mmsb::tool {

namespace {

using ull = unsigned long long;

std::string hex(state_hash h)
{
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<ull>(h.value));
  return buf;
}

std::uint64_t file_bytes(const std::string& path)
{
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<std::uint64_t>(n);
}

rebuilt_state rebuild(file_system& fs, const std::string& dir, std::optional<std::uint64_t> e)
{
  require_dir(dir);
  return rebuild_state(fs, dir, e ? std::optional<epoch>(epoch{*e}) : std::nullopt);
}

std::string shape_words(const shape_info& s)
{
  return describe_shape({reinterpret_cast<const std::byte*>(s.text.data()), s.text.size()});
}

std::string json_notes(const std::vector<std::string>& notes)
{
  std::string out = "[";
  for (std::size_t k = 0; k < notes.size(); ++k) out += (k ? ", " : "") + json_string(notes[k]);
  return out + "]";
}

} // namespace

int replay(file_system& fs, const std::string& dir, std::optional<std::uint64_t> e, bool dump, bool json)
{
  const auto r = rebuild(fs, dir, e);
  const auto& s = r.state;
  const std::string from = r.checkpoint.empty() ? std::string("the empty state") : "checkpoint " + r.checkpoint;
  if (json) {
    std::printf("{\"dir\": %s, \"epoch\": %llu, \"state_hash\": \"%s\", \"pages\": %zu, \"shape\": %s, \"checkpoint\": %s, "
                "\"checkpoint_epoch\": %llu, \"commits\": %llu, \"topology\": %s, \"notes\": %s",
                json_string(dir).c_str(), static_cast<ull>(r.epoch.value()), hex(s.hash()).c_str(), s.pages().size(),
                json_string(shape_words(s.shape())).c_str(),
                r.checkpoint.empty() ? "null" : json_string(r.checkpoint).c_str(), static_cast<ull>(r.checkpoint_epoch.value()),
                static_cast<ull>(r.commits), r.topology ? "true" : "false", json_notes(r.notes).c_str());
    if (dump) {
      std::printf(", \"page_values\": [");
      bool first = true;
      for (const auto& [id, p] : s.pages()) {
        std::printf("%s{\"page\": %u, \"epoch\": %llu, \"values\": [", first ? "" : ", ", id, static_cast<ull>(p.epoch.value()));
        for (std::size_t i = 0; i < s.shape().extent; ++i) std::printf("%s%s", i ? ", " : "", json_value(s.slot_text(p, i)).c_str());
        std::printf("]}");
        first = false;
      }
      std::printf("]");
    }
    std::printf("}\n");
    return 0;
  }
  if (dump) {  // CSV only, so that the output parses as it is
    std::printf("page,epoch,slot,value\n");
    for (const auto& [id, p] : s.pages())
      for (std::size_t i = 0; i < s.shape().extent; ++i)
        std::printf("%u,%llu,%zu,%s\n", id, static_cast<ull>(p.epoch.value()), i, s.slot_text(p, i).c_str());
    return 0;
  }
  std::printf("%s at epoch %llu: %s, then %llu commits\n", dir.c_str(), static_cast<ull>(r.epoch.value()), from.c_str(),
              static_cast<ull>(r.commits));
  std::printf("  shape: %s\n  pages: %zu\n  state hash: %s\n", shape_words(s.shape()).c_str(), s.pages().size(), hex(s.hash()).c_str());
  if (r.topology) std::printf("  note: the store has a page graph; derived pages are not recomputed (the hash covers the stored pages)\n");
  for (const auto& n : r.notes) std::printf("  note: %s\n", n.c_str());
  return 0;
}

int stat(file_system& fs, const std::string& dir, bool json)
{
  require_dir(dir);
  const auto shape = read_store_shape(fs, dir);
  const std::string log_dir = dir + "/log", ckpt_dir = dir + "/checkpoints";
  std::uint64_t segments = 0, log_bytes = 0, commits = 0, ckpt_bytes = 0;
  std::optional<std::uint64_t> first_commit;
  std::vector<std::string> segs;
  if (fs.exists(log_dir))
    for (const auto& name : fs.list(log_dir)) {
      std::uint64_t index = 0;
      if (!parse_segment_name(name, index)) continue;
      ++segments;
      log_bytes += file_bytes(log_dir + "/" + name);
    }
  const auto report = read_log(fs, log_dir, shape, recovery_mode::point_in_time, [&](const record_header& h, span<const std::byte>) {
    if (h.type != record_type::commit) return;
    ++commits;
    if (!first_commit) first_commit = h.epoch.value();
  });
  struct ckpt_row {
    std::uint64_t epoch, bytes;
    checkpoint_check check;
  };
  std::vector<ckpt_row> ckpts;
  if (fs.exists(ckpt_dir))
    for (const auto& name : fs.list(ckpt_dir)) {
      epoch e;
      if (!parse_checkpoint_name(name, e)) continue;
      ckpts.push_back({e.value(), file_bytes(ckpt_dir + "/" + name), check_checkpoint(fs, ckpt_dir, e.value())});
      ckpt_bytes += ckpts.back().bytes;
    }
  std::sort(ckpts.begin(), ckpts.end(), [](const ckpt_row& a, const ckpt_row& b) { return a.epoch < b.epoch; });
  // The epochs a replay reaches, as one unbroken range: from the oldest valid checkpoint the log
  // continues (or 0 when the log starts at epoch 1) to the last commit the log holds. With no
  // commit in the log, the newest valid checkpoint alone (or 0, the empty state, without one).
  std::optional<std::uint64_t> first, last;
  if (first_commit) {
    if (*first_commit == 1) first = last = 0;
    for (const auto& c : ckpts)
      if (c.check.valid && *first_commit <= c.epoch + 1) {
        if (!first || c.epoch < *first) first = c.epoch;
        if (!last || c.epoch > *last) last = c.epoch;
      }
    if (first) last = std::max(report.last_epoch.value(), *last);
  } else {
    first = last = 0;
    for (const auto& c : ckpts)
      if (c.check.valid && c.epoch > *last) first = last = c.epoch;
  }
  std::vector<std::string> damage;
  if (report.damage)
    damage.push_back(std::string(report.damage->mid_log ? "log corruption" : "torn log tail") + " at " + report.damage->segment +
                     " offset " + std::to_string(report.damage->offset) + ": " + to_string(report.damage->fault));
  for (const auto& c : ckpts)
    if (!c.check.valid) damage.push_back("damaged checkpoint " + ckpt_dir + "/" + checkpoint_name(epoch{c.epoch}) + ": " + c.check.detail);
  const std::string words = describe_shape(shape);
  const auto opt = [](std::optional<std::uint64_t> v) { return v ? std::to_string(*v) : std::string("null"); };
  if (json) {
    std::printf("{\"dir\": %s, \"shape\": %s, \"first_epoch\": %s, \"last_epoch\": %s, \"log\": {\"segments\": %llu, \"bytes\": %llu, "
                "\"commits\": %llu, \"first_commit\": %s, \"last_commit\": %s}, \"checkpoints\": [",
                json_string(dir).c_str(), json_string(words).c_str(), opt(first).c_str(), opt(last).c_str(), static_cast<ull>(segments),
                static_cast<ull>(log_bytes), static_cast<ull>(commits), opt(first_commit).c_str(),
                first_commit ? std::to_string(report.last_epoch.value()).c_str() : "null");
    for (std::size_t k = 0; k < ckpts.size(); ++k)
      std::printf("%s{\"epoch\": %llu, \"bytes\": %llu, \"valid\": %s, \"detail\": %s}", k ? ", " : "", static_cast<ull>(ckpts[k].epoch),
                  static_cast<ull>(ckpts[k].bytes), ckpts[k].check.valid ? "true" : "false", json_string(ckpts[k].check.detail).c_str());
    std::printf("], \"total_bytes\": %llu, \"damage\": %s}\n", static_cast<ull>(log_bytes + ckpt_bytes), json_notes(damage).c_str());
    return 0;
  }
  std::printf("%s\n  shape: %s\n", dir.c_str(), words.c_str());
  std::printf("  epochs: %s to %s (what replay reaches)\n", first ? std::to_string(*first).c_str() : "none",
              last ? std::to_string(*last).c_str() : "none");
  std::printf("  log: %llu segments, %llu bytes, %llu commits", static_cast<ull>(segments), static_cast<ull>(log_bytes), static_cast<ull>(commits));
  if (first_commit) std::printf(" (epochs %llu to %llu)", static_cast<ull>(*first_commit), static_cast<ull>(report.last_epoch.value()));
  std::printf("\n  checkpoints: %zu, %llu bytes\n", ckpts.size(), static_cast<ull>(ckpt_bytes));
  for (const auto& c : ckpts)
    std::printf("    epoch %llu  %llu bytes  %s\n", static_cast<ull>(c.epoch), static_cast<ull>(c.bytes), c.check.detail.c_str());
  std::printf("  total: %llu bytes\n  damage: %s\n", static_cast<ull>(log_bytes + ckpt_bytes), damage.empty() ? "none" : "");
  for (const auto& d : damage) std::printf("    %s\n", d.c_str());
  return 0;
}

int diff(file_system& fs, const std::string& left, const std::string& right, std::optional<std::uint64_t> e, bool json)
{
  const auto a = rebuild(fs, left, e);
  const auto b = rebuild(fs, right, e);
  if (a.state.shape().text != b.state.shape().text)
    throw error(errc::bad_format, "cannot compare " + left + " and " + right + ": their shapes differ ('" + a.state.shape().text +
                                    "' and '" + b.state.shape().text + "')");
  std::set<std::uint32_t> ids;
  for (const auto& kv : a.state.pages()) ids.insert(kv.first);
  for (const auto& kv : b.state.pages()) ids.insert(kv.first);
  const auto& s = a.state;
  std::size_t differing_pages = 0, differing_slots = 0;
  std::string out;
  bool first_page = true;
  for (const auto id : ids) {
    const auto ia = a.state.pages().find(id), ib = b.state.pages().find(id);
    const bool in_a = ia != a.state.pages().end(), in_b = ib != b.state.pages().end();
    if (!in_a || !in_b) {
      ++differing_pages;
      const std::string where = in_a ? left : right;
      if (json) out += std::string(first_page ? "" : ", ") + "{\"page\": " + std::to_string(id) + ", \"only_in\": " + json_string(where) + "}";
      else out += "page " + std::to_string(id) + ": only in " + where + "\n";
      first_page = false;
      continue;
    }
    std::string slots;
    std::size_t n = 0;
    for (std::size_t i = 0; i < s.shape().extent; ++i) {
      if (s.slot_equal(ia->second, ib->second, i)) continue;
      const std::string va = s.slot_text(ia->second, i), vb = s.slot_text(ib->second, i);
      if (json) slots += std::string(n ? ", " : "") + "{\"slot\": " + std::to_string(i) + ", \"left\": " + json_value(va) + ", \"right\": " + json_value(vb) + "}";
      else slots += "page " + std::to_string(id) + " slot " + std::to_string(i) + ": " + va + " | " + vb + "\n";
      ++n;
    }
    if (n == 0) continue;
    ++differing_pages;
    differing_slots += n;
    if (json) out += std::string(first_page ? "" : ", ") + "{\"page\": " + std::to_string(id) + ", \"slots\": [" + slots + "]}";
    else out += slots;
    first_page = false;
  }
  const bool equal = differing_pages == 0;
  if (json) {
    std::printf("{\"left\": {\"dir\": %s, \"epoch\": %llu, \"state_hash\": \"%s\"}, \"right\": {\"dir\": %s, \"epoch\": %llu, \"state_hash\": \"%s\"}, "
                "\"equal\": %s, \"differing_pages\": %zu, \"differing_slots\": %zu, \"pages\": [%s]}\n",
                json_string(left).c_str(), static_cast<ull>(a.epoch.value()), hex(a.state.hash()).c_str(), json_string(right).c_str(),
                static_cast<ull>(b.epoch.value()), hex(b.state.hash()).c_str(), equal ? "true" : "false", differing_pages, differing_slots, out.c_str());
  } else {
    std::printf("left:  %s at epoch %llu, state hash %s\nright: %s at epoch %llu, state hash %s\n", left.c_str(), static_cast<ull>(a.epoch.value()),
                hex(a.state.hash()).c_str(), right.c_str(), static_cast<ull>(b.epoch.value()), hex(b.state.hash()).c_str());
    if (a.epoch != b.epoch) std::printf("note: the stores are at different epochs; --epoch E compares one epoch\n");
    std::fputs(out.c_str(), stdout);
    if (equal) std::printf("equal: every page and slot is the same\n");
    else std::printf("%zu pages differ (%zu slots)\n", differing_pages, differing_slots);
  }
  return equal ? 0 : 1;
}

} // namespace mmsb::tool
